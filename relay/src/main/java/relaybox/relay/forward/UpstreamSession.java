package relaybox.relay.forward;

import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

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

    /**
     * Delivers {@code entry} as {@link #send(QueueEntry, MessageSource)} does, and may send
     * {@code next}'s MAIL, RCPT and DATA right behind {@code entry}'s final "." (RFC 2920 allows
     * the end of data and the next transaction's commands in one group), which saves a round trip
     * per message. When it did, {@link #sentAhead()} names {@code next}, and the owner must send
     * {@code next} on this session before anything else, or close it: the upstream may already
     * be waiting for {@code next}'s data. Sessions that cannot do this ignore {@code next}.
     */
    default Attempt send(QueueEntry entry, MessageSource source, QueueEntry next) {
        return send(entry, source);
    }

    /** The entry whose commands already went out behind the last message, or null. */
    default QueueId sentAhead() {
        return null;
    }

    /**
     * The strongest request the upstream made of itself as a whole during the last send (a pause
     * outranks a slow-down), as {@link FailurePolicy} classified it; null when none. The worker
     * hands it to the link monitor, which slows or pauses the upstream.
     */
    default FailurePolicy.Decision upstreamSignal() {
        return null;
    }

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
