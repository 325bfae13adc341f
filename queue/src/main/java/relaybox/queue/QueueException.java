package relaybox.queue;

/**
 * The queue could not do what was asked. {@link Kind} tells the intake which SMTP reply to give:
 * a full store is 452 4.3.1, anything else 451 4.3.0. Either way the client keeps the message.
 */
public class QueueException extends Exception {

    public enum Kind {
        /** Free space on the queue's filesystem is below the configured reserve. */
        STORAGE_FULL,
        /** The store or the spool failed (I/O error, store closed or broken). */
        STORAGE_ERROR
    }

    private final Kind kind;

    public QueueException(Kind kind, String message, Throwable cause) {
        super(message, cause);
        this.kind = kind;
    }

    public QueueException(Kind kind, String message) {
        this(kind, message, null);
    }

    public Kind kind() {
        return kind;
    }
}
