package relaybox.queue.mapdb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;

/**
 * Owns finding, for the {@link CrossCheck}, the entries the index lost: the live ACCEPT records
 * of the segments present at the open whose entry the index lacks and that no REMOVE follows,
 * each with the state its later UPDATEs give it; and confirming one before it is queued again.
 * It reads the spool and looks entries up; it writes nothing (the files of removed entries it
 * finds left behind, {@link #removedWithFile}, its owner deletes).
 */
final class LostEntries {

    private static final Logger LOG = LoggerFactory.getLogger(MapDbQueue.class);

    /** A live ACCEPT record ({@code start} in {@code segment}) whose entry the index lacked when the scan met it. */
    record Candidate(EntryCodec.Stored stored, long segment, long start) { }

    private final Spool spool;
    private final IndexView view;
    /** Ids of large messages removed since the open (their records get no dead mark). */
    private final Set<String> removedFiles;
    /** By id, in the order the scan met them. */
    final Map<String, Candidate> lost = new LinkedHashMap<>();
    /** Ranges that are not an intact record, or whose record does not decode: segment, start, end. */
    final List<long[]> damaged = new ArrayList<>();
    /**
     * Removed entries (a REMOVE record names them) whose message file is still there: a kill
     * between the commit that removed the entry and the file's deletion left it. Nobody's, and
     * once the segment holding the REMOVE is gone, a later cross-check would take the entry for
     * lost (a large message's ACCEPT record gets no dead mark) and send it again.
     */
    final List<QueueId> removedWithFile = new ArrayList<>();
    long records;

    LostEntries(Spool spool, IndexView view, Set<String> removedFiles) {
        this.spool = spool;
        this.view = view;
        this.removedFiles = removedFiles;
    }

    /** Reads segment {@code seg} from its start, in file order (segments are passed oldest first). */
    void scan(long seg, BooleanSupplier stopping) throws IOException {
        spool.scan(seg, 0, new SegmentScanner.Visitor() {
            @Override
            public void record(SpoolRecord.Kind kind, long start, long end, byte[] payload) throws IOException {
                if (stopping.getAsBoolean()) {
                    throw new InterruptedIOException("closing");
                }
                records++;
                seen(seg, kind, start, payload);
            }

            @Override
            public void damaged(long start, long end) {
                LostEntries.this.damaged.add(new long[] {seg, start, end});
            }
        });
    }

    private void seen(long seg, SpoolRecord.Kind kind, long start, byte[] payload) {
        if (kind == SpoolRecord.Kind.DEAD) {
            return;
        }
        byte[] inner = SpoolRecord.inner(payload);
        if (kind == SpoolRecord.Kind.REMOVE) {
            // Delivered or deleted: whatever came before it stays out.
            String id = new String(inner, StandardCharsets.UTF_8);
            lost.remove(id);
            if (QueueId.isValid(id) && Files.exists(spool.file(new QueueId(id)))) {
                removedWithFile.add(new QueueId(id));
            }
            return;
        }
        EntryCodec.Stored stored;
        try {
            stored = EntryCodec.decodeStored(inner);
        } catch (EntryCodec.DecodeException ex) {
            // Intact by its CRC yet not an entry: written by a newer version, or a bug.
            damaged.add(new long[] {seg, start, start + SpoolRecord.HEADER + payload.length});
            return;
        }
        String key = stored.entry().id().value();
        Candidate c = lost.get(key);
        if (kind == SpoolRecord.Kind.UPDATE) {
            if (c != null) {
                // The bytes stay where the ACCEPT says; only the state is taken.
                lost.put(key, new Candidate(new EntryCodec.Stored(stored.entry(), c.stored().location()), c.segment(),
                        c.start()));
            }
            return;
        }
        if (c == null && !view.overlay.containsKey(stored.entry().id())
                && !view.index.read(() -> view.index.records.containsKey(key))) {
            lost.put(key, new Candidate(stored, seg, start));
        }
    }

    /**
     * Under the queue's lock, where every removal writes its dead mark and REMOVE: whether the
     * candidate's entry is still lost, rather than delivered or deleted since the scan met it.
     */
    boolean stillLost(Candidate c) {
        QueueId id = c.stored().entry().id();
        SpoolLocation loc = c.stored().location();
        if (view.overlay.containsKey(id) || view.index.read(() -> view.index.records.containsKey(id.value()))
                || removedFiles.contains(id.value())
                || view.index.read(() -> view.index.moved.contains(IndexKeys.movedKey(c.segment(), c.start())))) {
            return false;
        }
        try {
            if (!acceptAt(c.segment(), c.start())) {
                return false;
            }
        } catch (IOException e) {
            return false;
        }
        if (loc.inFile() && !Files.exists(spool.file(id))) {
            // A large message's file goes only after the commit that removed its entry.
            LOG.info("{}: not recovered from the spool: its message file is gone, so it was delivered or deleted", id);
            return false;
        }
        return true;
    }

    /** Whether the record at {@code start} of segment {@code seg} is still a live ACCEPT (not marked dead since). */
    private boolean acceptAt(long seg, long start) throws IOException {
        try (FileChannel ch = FileChannel.open(spool.segment(seg), StandardOpenOption.READ)) {
            ByteBuffer magic = ByteBuffer.allocate(4);
            SegmentScanner.readFully(ch, magic, start);
            return magic.getInt(0) == SpoolRecord.Kind.ACCEPT.magic;
        }
    }
}
