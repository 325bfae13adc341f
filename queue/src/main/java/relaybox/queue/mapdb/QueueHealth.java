package relaybox.queue.mapdb;

import relaybox.queue.QueueException;

import java.util.function.Consumer;

import static relaybox.queue.mapdb.StorageErrors.storageError;

/**
 * Owns whether a {@link MapDbQueue} may still write: not closed by its owner, and no commit,
 * fsync or index damage has made the store untrusted. Split out of {@link MapDbQueue} so that
 * the one rule (once untrusted, nothing is written until a restart recovers the store) lives in
 * one place. Volatile flags, no lock, on the write path: every thread reads them on each write.
 */
final class QueueHealth {

    private volatile boolean healthy = true;
    private volatile boolean closed;
    /** Told once when the store turns untrusted; guarded by this. */
    private Consumer<String> owner;
    /** Why the store is untrusted, once it is; guarded by this. */
    private String untrusted;
    private boolean told;

    /** The index turned out damaged while the queue runs: untrusted, and the owner is told. */
    void indexDamaged() {
        healthy = false;
        tell("the queue index is damaged; the next start rebuilds it from the spool");
    }

    /**
     * Registers the owner, told once when the store turns untrusted; at once if it already has:
     * the cross-check finds damage in the background from the open on, and the owner registers
     * after the open (a damage found in between was told to nobody, and the daemon refused all
     * mail until it was killed: CrashLoopIT, 154 refusals).
     */
    synchronized void onUntrusted(Consumer<String> listener) {
        owner = listener;
        if (untrusted != null && !told) {
            told = true;
            listener.accept(untrusted);
        }
    }

    private synchronized void tell(String why) {
        if (untrusted == null) {
            untrusted = why;
        }
        if (owner != null && !told) {
            told = true;
            owner.accept(untrusted);
        }
    }

    /** Marks the queue closed; false when it already was. */
    boolean close() {
        if (closed) {
            return false;
        }
        closed = true;
        return true;
    }

    void checkWritable() throws QueueException {
        if (closed) {
            throw storageError("queue is closed", null);
        }
        if (!healthy) {
            throw storageError("queue store failed earlier; the next start recovers it", null);
        }
    }

    /** Whether the store is trusted: no commit or fsync has failed (closing aside). */
    boolean storeHealthy() {
        return healthy;
    }

    /**
     * A commit or fsync failed: nothing more is written until a restart recovers the store, so
     * the owner is told, to stop and be started again (crash-only, as for a damaged index).
     */
    void storeFailed() {
        healthy = false;
        tell("a queue commit or spool fsync failed; the next start recovers the queue from the spool");
    }

    /** Trusted and not closed. */
    boolean healthy() {
        return healthy && !closed;
    }
}
