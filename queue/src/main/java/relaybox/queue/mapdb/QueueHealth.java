package relaybox.queue.mapdb;

import relaybox.queue.QueueException;

import static relaybox.queue.mapdb.StorageErrors.storageError;

/**
 * Owns whether a {@link MapDbQueue} may still write: not closed by its owner, and no commit,
 * fsync or index damage has made the store untrusted. Split out of {@link MapDbQueue} so that
 * the one rule (once untrusted, nothing is written until a restart recovers the store) lives in
 * one place. Volatile flags, no lock: every thread reads them on each write.
 */
final class QueueHealth {

    private volatile boolean healthy = true;
    private volatile boolean closed;
    private volatile Runnable damageListener = () -> { };

    /** The index turned out damaged while the queue runs: untrusted, and the owner is told. */
    void indexDamaged() {
        healthy = false;
        damageListener.run();
    }

    void onIndexDamaged(Runnable listener) {
        damageListener = listener;
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
            throw storageError("queue store failed earlier; restart relaybox to recover it", null);
        }
    }

    /** Whether the store is trusted: no commit or fsync has failed (closing aside). */
    boolean storeHealthy() {
        return healthy;
    }

    /** A commit or fsync failed: nothing more is written until a restart recovers the store. */
    void storeFailed() {
        healthy = false;
    }

    /** Trusted and not closed. */
    boolean healthy() {
        return healthy && !closed;
    }
}
