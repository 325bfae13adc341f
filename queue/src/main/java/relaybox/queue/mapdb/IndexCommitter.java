package relaybox.queue.mapdb;

import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueException;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import static relaybox.queue.mapdb.StorageErrors.storageError;

/**
 * Owns the thread that writes the MapDB index, so MapDB's one global transaction is never
 * shared between writers and nobody but an admin action waits for it: it takes the queue's
 * {@link IndexOp}s and gathers them for up to 100 ms (less when someone waits) into one batch,
 * which {@link IndexBatch} commits.
 */
final class IndexCommitter {

    private static final Logger LOG = LoggerFactory.getLogger(IndexCommitter.class);
    private static final int MAX_BATCH = 4096;
    /**
     * Writes nobody waits for (new entries, already durable in the spool; outcomes) are gathered
     * for up to this long into one index commit: each MapDB commit costs two fsyncs and a
     * write-ahead log file created and deleted, and nothing gains from committing sooner.
     */
    private static final long INDEX_INTERVAL_NANOS = TimeUnit.MILLISECONDS.toNanos(100);

    private final MapDbQueue queue;
    final IndexBatch batches;
    private final LinkedBlockingQueue<IndexOp> ops = new LinkedBlockingQueue<>();
    private final Thread thread = new Thread(this::loop, "queue-committer");
    /** Set when the committer exits; guarded by {@code ops}. */
    private boolean stopped;
    /** An urgent write is in {@link #ops}: {@link #gather} stops waiting. Guarded by ops. */
    private boolean urgentWaiting;

    IndexCommitter(MapDbQueue queue, DB db, IndexView view, Spool spool, BTreeMap<Long, Long> watermarks) {
        this.queue = queue;
        this.batches = new IndexBatch(queue, db, view, spool, watermarks);
    }

    void start() {
        thread.start();
    }

    /** Hands an op to the committer, or fails it at once once the committer has stopped. */
    void submit(IndexOp op) {
        synchronized (ops) {
            if (stopped) {
                IndexOp.fail(op, storageError("queue is closed", null));
            } else {
                ops.add(op);
                if (IndexOp.urgent(op)) {
                    urgentWaiting = true;
                    ops.notifyAll();
                }
            }
        }
    }

    /** Commits what is waiting, then stops; returns once the committer has exited, whether all was committed. */
    boolean stop() {
        CompletableFuture<Void> stop = new CompletableFuture<>();
        submit(new IndexOp.Stop(stop));
        try {
            stop.get();
            return true;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (java.util.concurrent.ExecutionException e) {
            LOG.error("queue committer failed at close", e);
        }
        return false;
    }

    /** Stops without writing what it has not written (tests: as kill -9 would). */
    void crash() throws InterruptedException {
        thread.interrupt();
        thread.join(10_000);
        synchronized (ops) {
            stopped = true;
            List<IndexOp> late = new ArrayList<>();
            ops.drainTo(late);
            late.forEach(op -> IndexOp.fail(op, storageError("crashed", null)));
        }
    }

    private void loop() {
        List<IndexOp> batch = new ArrayList<>();
        while (true) {
            batch.clear();
            try {
                batch.add(ops.take());
                CountDownLatch gate = queue.hooks.indexGate;
                if (gate != null) {
                    gate.await();
                }
            } catch (InterruptedException e) {
                // Only crash() interrupts: what was taken dies unwritten, and its waiters learn so.
                batch.forEach(op -> IndexOp.fail(op, storageError("queue committer stopped", null)));
                return;
            }
            synchronized (ops) {
                // Set again by any urgent write not yet in ops; one already there is drained now.
                urgentWaiting = false;
            }
            ops.drainTo(batch, MAX_BATCH - 1);
            try {
                gather(batch);
            } catch (InterruptedException e) {
                return;
            }
            IndexOp.Stop stop = null;
            for (IndexOp op : batch) {
                if (op instanceof IndexOp.Stop s) {
                    stop = s;
                }
            }
            batches.commit(batch);
            if (stop != null) {
                synchronized (ops) {
                    stopped = true;
                    List<IndexOp> late = new ArrayList<>();
                    ops.drainTo(late);
                    QueueException qe = storageError("queue is closed", null);
                    for (IndexOp op : late) {
                        IndexOp.fail(op, qe);
                    }
                }
                stop.done().complete(null);
                return;
            }
        }
    }

    /**
     * Waits, up to the index interval since the last commit, for more writes to share the commit.
     * Only an urgent write (someone waits for it) ends the wait early: the others are left in
     * {@link #ops} and drained once, so the committer is not woken for every accepted message
     * (it was, 0.8 thread switches per message, plus a futex call on the accepting event loop).
     */
    private void gather(List<IndexOp> batch) throws InterruptedException {
        if (batch.stream().anyMatch(IndexOp::urgent)) {
            return;
        }
        long deadline = batches.lastCommitNanos + INDEX_INTERVAL_NANOS;
        synchronized (ops) {
            // A full batch need not wait either: a retry of the whole queue writes thousands.
            while (!urgentWaiting && ops.size() < MAX_BATCH - batch.size()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                ops.wait(left / 1_000_000, (int) (left % 1_000_000));
            }
        }
        ops.drainTo(batch, MAX_BATCH - batch.size());
    }

}
