package relaybox.queue.mapdb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueException;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static relaybox.queue.mapdb.StorageErrors.storageError;

/**
 * Owns the group fsync of the spool that every 250 waits for: one thread, one
 * {@link Spool#sync} for every accept (and compaction copy) waiting at the time, then all of
 * them are released. It also counts the messages being received, which the fsync briefly waits
 * for (see {@link #run}).
 */
final class SpoolSyncer {

    private static final Logger LOG = LoggerFactory.getLogger(SpoolSyncer.class);
    /** The longest an fsync waits for messages still being received; see {@link #run}. */
    private static final long SYNC_GATHER_NANOS = TimeUnit.MICROSECONDS.toNanos(500);
    private static final CompletableFuture<Void> STOP_SYNC = new CompletableFuture<>();

    private final Spool spool;
    private final MapDbQueue queue;
    private final LinkedBlockingQueue<CompletableFuture<Void>> waiters = new LinkedBlockingQueue<>();
    private final Thread thread = new Thread(this::run, "queue-spool-sync");
    final AtomicLong syncs = new AtomicLong();
    /** Messages between their first body byte and their accept or discard (see SpoolIncoming). */
    final AtomicInteger receiving = new AtomicInteger();
    /** Set as the thread ends, before it fails the late waiters. */
    private volatile boolean stopped;

    SpoolSyncer(Spool spool, MapDbQueue queue) {
        this.spool = spool;
        this.queue = queue;
        thread.setDaemon(true);
    }

    void start() {
        thread.start();
    }

    /** A stage that completes after the next spool fsync (or fails with it). */
    CompletableFuture<Void> next() {
        CompletableFuture<Void> synced = new CompletableFuture<>();
        waiters.add(synced);
        if (stopped) {
            // The thread has gone (a close, or a test's kill): an accept that got past the
            // queue's check just before would otherwise wait for an fsync that never comes.
            failLate();
        }
        return synced;
    }

    private void failLate() {
        List<CompletableFuture<Void>> late = new ArrayList<>();
        waiters.drainTo(late);
        late.remove(STOP_SYNC);
        late.forEach(f -> f.completeExceptionally(storageError("queue is closed", null)));
    }

    /** Serves the waiters already there, fails later ones, and ends the thread. */
    void stop() throws InterruptedException {
        waiters.add(STOP_SYNC);
        thread.join(10_000);
    }

    /**
     * Serves {@link #waiters}: one spool fsync for everyone waiting, then all are released.
     * While other messages' bodies are still arriving it waits up to {@link #SYNC_GATHER_NANOS}
     * for them to join, as PostgreSQL's commit_delay does when commit_siblings are active: each
     * fsync costs the machine three thread switches and a disk flush, and a body already
     * arriving is a few hundred microseconds from its final dot. A lone client never waits
     * (nobody else is receiving).
     */
    private void run() {
        List<CompletableFuture<Void>> batch = new ArrayList<>();
        while (true) {
            batch.clear();
            try {
                batch.add(waiters.take());
                waiters.drainTo(batch);
                long deadline = System.nanoTime() + SYNC_GATHER_NANOS;
                while (receiving.get() > 0 && !batch.contains(STOP_SYNC)) {
                    long left = deadline - System.nanoTime();
                    CompletableFuture<Void> next = left > 0 ? waiters.poll(left, TimeUnit.NANOSECONDS) : null;
                    if (next == null) {
                        break;
                    }
                    batch.add(next);
                    waiters.drainTo(batch);
                }
            } catch (InterruptedException e) {
                stopped = true;
                batch.forEach(f -> f.completeExceptionally(storageError("queue is closed", null)));
                failLate();
                return;
            }
            boolean stop = batch.remove(STOP_SYNC);
            try {
                if (!batch.isEmpty()) {
                    queue.hooks.spoolSync.accept("sync");
                    spool.sync();
                    syncs.incrementAndGet();
                    queue.hooks.spoolSync.accept("synced");
                }
                queue.awaitCommitter();
                batch.forEach(f -> f.complete(null));
            } catch (IOException | RuntimeException e) {
                queue.health.storeFailed();
                LOG.error("spool fsync failed; the queue takes no more writes, and the next start recovers it", e);
                QueueException qe = storageError("spool fsync failed: " + e, e);
                batch.forEach(f -> f.completeExceptionally(qe));
            }
            if (stop) {
                // Late arrivals after close are failed, never left waiting (see next()).
                stopped = true;
                failLate();
                return;
            }
        }
    }
}
