package relaybox.queue.mapdb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Owns reading a message for sending: its bytes are checked against their checksum whenever
 * they are read, and bytes that do not match are never handed out; the entry is quarantined
 * instead (at once, or by the outcome of the attempt that was reading it).
 */
final class CheckedReads {

    private static final Logger LOG = LoggerFactory.getLogger(MapDbQueue.class);

    private final MapDbQueue queue;
    private final IndexView view;
    private final Spool spool;
    /** Entries whose message failed its checksum while leased, with the reason, until their outcome. */
    final Map<QueueId, String> damaged = new ConcurrentHashMap<>();

    CheckedReads(MapDbQueue queue, IndexView view, Spool spool) {
        this.queue = queue;
        this.view = view;
        this.spool = spool;
    }

    /**
     * Opens the message for sending after checking its bytes against their checksum. Bytes that
     * do not match are never handed out: the entry is marked damaged, the caller gets an
     * IOException, and the outcome it then records quarantines the entry instead (see
     * {@link MapDbQueue#recordOutcome}); an entry not being sent is quarantined at once.
     */
    InputStream open(QueueId id) throws IOException {
        QueueEntry e = queue.get(id).orElse(null);
        // Remembered only for a send: its outcome forgets it. A listing's or a bounce's read
        // has no outcome to come.
        SpoolLocation loc = e != null && e.state() == EntryState.SENDING ? view.locationForSending(id)
                : view.location(id);
        if (e == null || loc == null) {
            throw new IOException("no queue entry " + id);
        }
        InputStream body;
        try {
            try {
                body = spool.open(id, loc);
            } catch (java.nio.file.NoSuchFileException gone) {
                // The compactor moved it between the lookup and the open, and its old segment
                // went: the copy is where the entry is now.
                SpoolLocation moved = view.location(id);
                if (moved == null || moved.equals(loc)) {
                    throw gone;
                }
                body = spool.open(id, moved);
            }
        } catch (MessageReader.Damaged d) {
            damaged(e, d.getMessage());
            throw d;
        }
        return new SequenceInputStream(new ByteArrayInputStream(e.addedHeaders().getBytes(StandardCharsets.UTF_8)),
                body);
    }

    private void damaged(QueueEntry e, String why) {
        LOG.error("{}: message damaged on disk ({}); quarantined, not sent", e.id(), why);
        if (e.state() == EntryState.SENDING) {
            damaged.put(e.id(), why);
        } else if (e.state() != EntryState.QUARANTINED) {
            queue.quarantineNow(e.id(), why);
        }
    }
}
