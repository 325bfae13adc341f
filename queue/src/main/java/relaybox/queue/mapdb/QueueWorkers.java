package relaybox.queue.mapdb;

import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.util.function.BooleanSupplier;

/**
 * Owns the parts of a {@link MapDbQueue} that write (acceptor, spool syncer, outcome journal,
 * index committer, segment compactor): building them in the order they depend on each other,
 * starting their threads, and stopping them in the order that keeps acknowledged mail safe, for
 * a clean close and for a test's kill -9. Split out of {@link MapDbQueue} so that the queue
 * class reads as the {@link relaybox.queue.Queue} API and this one as the life of its threads.
 */
final class QueueWorkers {

    /** Logged under the queue's name, as operators know it from before this split. */
    private static final Logger LOG = LoggerFactory.getLogger(MapDbQueue.class);

    final IndexCommitter committer;
    final SpoolSyncer syncer;
    final Acceptor acceptor;
    final OutcomeJournal journal;
    final SegmentCompactor compactor;
    /** After an unclean stop: the cross-check the open left to run in the background; null when none. */
    CrossCheck crossCheck;
    private final DB db;
    private final Spool spool;
    private final SpaceGuard space;
    private final Path dir;

    QueueWorkers(MapDbQueue queue, DB db, IndexView view, Spool spool, BTreeMap<Long, Long> watermarks,
                 SpaceGuard space, Clock clock, SegmentCompactor.Settings compaction, Path dir) {
        this.db = db;
        this.spool = spool;
        this.space = space;
        this.dir = dir;
        this.committer = new IndexCommitter(queue, db, view, spool, watermarks);
        this.syncer = new SpoolSyncer(spool, queue);
        this.acceptor = new Acceptor(queue, spool, syncer, space, clock);
        this.journal = new OutcomeJournal(spool, view, committer);
        this.compactor = new SegmentCompactor(spool, new QueueCompaction(queue, view, spool, syncer, committer, space),
                compaction);
    }

    /** After recovery: the threads that write go. */
    void start() {
        committer.start();
        syncer.start();
        spool.startPreparing(space::roomForZeros);
        compactor.start();
        if (crossCheck != null) {
            crossCheck.start();
        }
    }

    /** "N spool fsyncs; index: N commits, M writes (K per commit), T ms per commit": how well group commit works. */
    String commitStats() {
        return syncer.syncs.get() + " spool fsyncs; " + committer.batches.stats();
    }

    /**
     * Dies like kill -9 would, as far as the files are concerned. Whatever the committer had not
     * written stays unwritten; channels are closed without a final commit.
     */
    void crash() throws InterruptedException {
        stopCrossCheck();
        compactor.requestStop();
        acceptor.crash();
        // What the committer never took dies with the process; the compactor, waiting for it,
        // gives up without touching the spool.
        committer.crash();
        compactor.join();
        syncer.stop();
        db.getStore().close();
        spool.close();
    }

    /** A check stopped before its end leaves the stop unclean (see {@link #close}): the next open checks again. */
    private void stopCrossCheck() {
        if (crossCheck != null) {
            crossCheck.stop();
        }
    }

    /**
     * A clean close: every part stops, the index is committed and closed, the spool synced; the
     * clean-stop stamp is written only when all of that worked and the store is {@code healthy}.
     */
    void close(Runnable wakeAll, BooleanSupplier healthy) {
        stopCrossCheck();
        compactor.stop();
        acceptor.stop();
        // The syncer first: accepts already waiting for their fsync are served, later ones fail.
        try {
            syncer.stop();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        boolean committed = committer.stop();
        wakeAll.run();
        LOG.info("queue closed: {}", commitStats());
        if (!db.isClosed()) {
            db.close();
        }
        try {
            spool.sync();
        } catch (IOException e) {
            committed = false;
        }
        spool.close();
        if (committed && healthy.getAsBoolean() && (crossCheck == null || crossCheck.done())) {
            // Only now: everything is committed and synced, and a cross-check the open left ran to
            // its end, so the next open need not cross-check.
            try {
                CleanStop.stamp(dir);
            } catch (IOException e) {
                LOG.warn("cannot write {} ({}); the next open cross-checks the spool against the index",
                        dir.resolve(CleanStop.STAMP), e.toString());
            }
        }
    }
}
