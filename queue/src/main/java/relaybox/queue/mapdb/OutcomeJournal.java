package relaybox.queue.mapdb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueEntry;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;

/**
 * Owns writing an entry's changes into the spool's journal before they go to the index: an
 * UPDATE with the entry's new state, or for a removal the dead mark on its ACCEPT record and a
 * REMOVE. One small pwrite each, no fsync: written before an outcome returns (so before the
 * forwarder starts its next message), it survives kill -9 in the page cache, and recovery
 * replays it if the index commit did not happen. No lock orders journal records with their
 * index writes: an entry's writes follow its life cycle one at a time, and replay ignores an
 * UPDATE for an entry already removed, whatever the file order.
 */
final class OutcomeJournal {

    private static final Logger LOG = LoggerFactory.getLogger(MapDbQueue.class);

    private final Spool spool;
    private final IndexView view;
    private final IndexCommitter committer;

    OutcomeJournal(Spool spool, IndexView view, IndexCommitter committer) {
        this.spool = spool;
        this.view = view;
        this.committer = committer;
    }

    /** A new state of {@code entry}: journalled, laid over the index, and handed to the committer. */
    CompletableFuture<Void> write(QueueEntry entry, boolean urgent) {
        IndexOp.Staged prev = view.overlay.get(entry.id());
        IndexOp.Staged st = new IndexOp.Staged(entry, prev != null && prev.entry() != null ? prev.location() : null);
        SpoolAppended j = updated(entry, view.location(entry.id()));
        view.overlay.put(entry.id(), st);
        CompletableFuture<Void> done = new CompletableFuture<>();
        committer.submit(new IndexOp.Put(entry, null, j == null ? -1 : j.segment(), j == null ? -1 : j.recordStart(),
                done, urgent, st));
        return done;
    }

    /** The removal of {@code entry}, as {@link #write} writes a change. */
    CompletableFuture<Void> erase(QueueEntry entry, boolean urgent) {
        IndexOp.Staged prev = view.overlay.get(entry.id());
        SpoolAppended j = removed(entry, view.location(entry.id()));
        IndexOp.Staged st = new IndexOp.Staged(null, prev != null ? prev.location() : null);
        view.overlay.put(entry.id(), st);
        CompletableFuture<Void> done = new CompletableFuture<>();
        committer.submit(new IndexOp.Remove(entry, j == null ? -1 : j.segment(), j == null ? -1 : j.recordStart(),
                done, urgent, st));
        return done;
    }

    /** The UPDATE record of {@code e}, whose bytes are at {@code loc}; null when none was written. */
    SpoolAppended updated(QueueEntry e, SpoolLocation loc) {
        if (loc == null) {
            return null;
        }
        try {
            return spool.appendJournal(SpoolRecord.Kind.UPDATE, EntryCodec.encode(e, loc));
        } catch (IOException ex) {
            return notWritten(e, ex);
        }
    }

    /** The dead mark and REMOVE record of {@code e}; null when the REMOVE was not written. */
    SpoolAppended removed(QueueEntry e, SpoolLocation loc) {
        if (loc == null) {
            return null;
        }
        markDead(e, loc);
        try {
            return spool.appendJournal(SpoolRecord.Kind.REMOVE, SpoolRecord.id(e.id().value()));
        } catch (IOException ex) {
            return notWritten(e, ex);
        }
    }

    private static SpoolAppended notWritten(QueueEntry e, IOException ex) {
        // The index write still goes ahead; without the journal record a crash before it
        // only means the entry's last attempt may be repeated.
        LOG.warn("{}: journal record not written ({})", e.id(), ex.toString());
        return null;
    }

    /** Marks a removed entry's ACCEPT record dead (see {@link Spool#markDead}). */
    private void markDead(QueueEntry e, SpoolLocation loc) {
        try {
            if (!spool.markDead(loc)) {
                LOG.warn("{}: its spool record was not found to mark it removed", e.id());
            }
        } catch (IOException ex) {
            LOG.warn("{}: spool record not marked removed ({})", e.id(), ex.toString());
        }
    }
}
