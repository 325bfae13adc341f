package relaybox.queue.mapdb;

import java.io.IOException;
import java.util.concurrent.CountDownLatch;
import java.util.function.Consumer;

/**
 * Owns what tests reach into a running {@link MapDbQueue} by: the gates and callbacks its parts
 * consult at the moments a test may want to hold or kill it, and reads of its internals. Nothing
 * here is set in production, where every hook's default does nothing. Split out of the queue so
 * that the queue class reads as the {@link relaybox.queue.Queue} API.
 */
final class TestHooks {

    /** While set, the committer writes nothing, as if the process were about to die. */
    volatile CountDownLatch indexGate;
    /** Called at each named moment of a compaction (see SegmentCompactor.Host#reached). */
    volatile Consumer<String> compaction = p -> { };
    /** The free bytes the compactor sees, instead of the file system's. */
    volatile Long compactionRoom;
    /**
     * Called at each named moment of an index commit ({@link IndexBatch#commit}): "applying"
     * before each entry's write, "applied", "watermarked", "synced" (just before MapDB's commit),
     * "committed" (just after it). A test throws from it to fail that commit there.
     */
    volatile Consumer<String> indexCommit = p -> { };
    /** Called before each group fsync of the accepts ("sync") and after it ("synced"); a test throws to fail it. */
    volatile Consumer<String> spoolSync = p -> { };

    private final QueueWorkers workers;
    private final IndexView view;
    private final Spool spool;

    TestHooks(QueueWorkers workers, IndexView view, Spool spool) {
        this.workers = workers;
        this.view = view;
        this.spool = spool;
    }

    /** Messages being received (their bodies started) and not yet accepted or discarded. */
    int receiving() {
        return workers.syncer.receiving.get();
    }

    /** One compaction pass now, on the caller's thread. */
    SegmentCompactor.Pass compactNow() throws IOException {
        return workers.compactor.compactNow();
    }

    /** Where the entry's message bytes are now. */
    SpoolLocation location(relaybox.queue.QueueId id) {
        return view.location(id);
    }

    /** The spool's bytes on disk, and the live bytes the index counts in segments. */
    long[] spoolBytes() throws IOException {
        long live = view.index.segmentLive.values().stream().mapToLong(Long::longValue).sum();
        return new long[] {spool.diskBytes(), live};
    }
}
