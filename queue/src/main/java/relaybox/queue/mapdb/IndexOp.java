package relaybox.queue.mapdb;

import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;

import java.util.concurrent.CompletableFuture;

/**
 * Owns what travels from the queue to its {@link IndexCommitter}: one write of the index each
 * (a new or changed entry, a removal, a compaction's move) or the stop at close, with the future
 * its writer may wait on.
 */
sealed interface IndexOp permits IndexOp.Put, IndexOp.Remove, IndexOp.Relocate, IndexOp.Step, IndexOp.Stop {

    /**
     * An entry written but not yet in the MapDB maps: the entry (null: removed) and, for one
     * accepted since, where its bytes are. Reads look here first ({@link IndexView}).
     */
    record Staged(QueueEntry entry, SpoolLocation location) { }

    /**
     * The entry's message moved to a copy of its record ({@link SegmentCompactor}): written with
     * the copy's location if the index still names {@code from}; {@code done} says whether it was.
     *
     * @param fromStart where the record at {@code from} starts, to be marked dead
     */
    record Relocate(QueueId id, SpoolLocation from, long fromStart, SpoolAppended to,
                    CompletableFuture<Boolean> done, Staged staged) implements IndexOp { }

    /**
     * @param location    where the message bytes are, for a new entry; null for an update (the
     *                    committer reads it from the stored record)
     * @param segment, recordStart where the spool record of this write is (the ACCEPT of a new
     *                 entry, or the journal's UPDATE); -1 when none was written
     * @param staged      what the overlay holds for this write until the committer has it
     */
    record Put(QueueEntry entry, SpoolLocation location, long segment, long recordStart,
               CompletableFuture<Void> done, boolean urgent, Staged staged) implements IndexOp { }

    /**
     * @param segment, recordStart where the journal's REMOVE record is; -1 when none was written
     * @param urgent someone waits for this write (an admin action): commit without delay
     */
    record Remove(QueueEntry entry, long segment, long recordStart, CompletableFuture<Void> done,
                  boolean urgent, Staged staged) implements IndexOp { }

    record Stop(CompletableFuture<Void> done) implements IndexOp { }

    /**
     * One bounded step of the cross-check ({@link CrossCheck}, {@link IndexAudit}), run on the
     * committer's thread between its writes, so the index keeps one writer; {@code done} completes
     * with the step's result once the commit that holds its repairs is made. {@code wrote}, asked
     * after the work: whether it changed the index. A batch of steps that changed nothing is not
     * committed (on mmap each commit costs an msync of the whole file: up to a second at depth).
     */
    record Step(java.util.function.Supplier<Object> work, java.util.function.BooleanSupplier wrote,
                CompletableFuture<Object> done) implements IndexOp { }

    /** Someone waits for it: the committer commits without gathering more. */
    static boolean urgent(IndexOp op) {
        return op instanceof Stop || op instanceof Step || (op instanceof Put p && p.urgent()) || (op instanceof Remove r && r.urgent());
    }

    static Staged staged(IndexOp op) {
        return op instanceof Put p ? p.staged() : ((Remove) op).staged();
    }

    static QueueId id(IndexOp op) {
        return op instanceof Put p ? p.entry().id() : ((Remove) op).entry().id();
    }

    /** Fails the op's waiter (a stop just completes). */
    static void fail(IndexOp op, QueueException e) {
        if (op instanceof Put p) {
            p.done().completeExceptionally(e);
        } else if (op instanceof Remove r) {
            r.done().completeExceptionally(e);
        } else if (op instanceof Relocate m) {
            m.done().completeExceptionally(e);
        } else if (op instanceof Step st) {
            st.done().completeExceptionally(e);
        } else if (op instanceof Stop s) {
            s.done().complete(null);
        }
    }
}
