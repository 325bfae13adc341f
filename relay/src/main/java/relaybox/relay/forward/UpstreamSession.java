package relaybox.relay.forward;

import relaybox.queue.QueueEntry;

import java.io.IOException;
import java.io.InputStream;

/**
 * One open session with an upstream, carrying many messages one after the other. It speaks to
 * the upstream and reports; it never touches the queue (the dispatcher records outcomes).
 *
 * <p>Call order: {@link #send} any number of times while {@link #reusable()}, {@link #keepAlive()}
 * while idle, then {@link #close()}. Not thread safe: one dispatcher worker owns it.
 */
public interface UpstreamSession extends AutoCloseable {

    /** Opens the message bytes as queued. The session closes the stream. */
    @FunctionalInterface
    interface MessageSource {
        InputStream open() throws IOException;
    }

    /**
     * Delivers {@code entry}'s message to its pending recipients. Never throws for a delivery
     * problem: every pending recipient gets an outcome, classified by {@link FailurePolicy}.
     */
    Attempt send(QueueEntry entry, MessageSource source);

    /** False once the session must not carry another message (limit reached, 421, broken). */
    boolean reusable();

    /** Checks an idle session (NOOP). False if it is no longer usable. */
    boolean keepAlive();

    /** The upstream as log lines show it. */
    String upstream();

    /** Ends the session politely (QUIT) where possible and releases the connection. Idempotent. */
    @Override
    void close();
}
