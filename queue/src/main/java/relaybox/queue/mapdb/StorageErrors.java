package relaybox.queue.mapdb;

import relaybox.queue.QueueException;

import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;

/** Owns turning a storage failure into the queue's one exception for it, STORAGE_ERROR. */
final class StorageErrors {

    private StorageErrors() {
    }

    static QueueException storageError(String message, Throwable cause) {
        return new QueueException(QueueException.Kind.STORAGE_ERROR, message, cause);
    }

    /** The QueueException behind a failed stage; anything else becomes a STORAGE_ERROR. */
    static QueueException asQueueException(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof QueueException q) {
            return q;
        }
        return storageError("queue write failed: " + t, t);
    }

    /** Waits for a write to be durable; its failure is thrown as a QueueException. */
    static void await(CompletableFuture<Void> f) throws QueueException {
        try {
            f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof QueueException q) {
                throw q;
            }
            throw storageError("queue write failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw storageError("interrupted while waiting for the queue commit", e);
        }
    }
}
