package relaybox.relay.forward;

import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;

import java.io.IOException;

/**
 * The plug point for one kind of upstream: it opens {@link UpstreamSession}s, and a session
 * delivers leased entries one after the other ({@link UpstreamSession#send}) and reports an
 * {@link Attempt}; neither touches the queue. Implemented by the SMTP path ({@link SmtpConnector})
 * and the outbox ({@link OutboxForwarder}); the dispatcher, its workers and the prober know only
 * this interface.
 */
public interface Forwarder {

    /** Opens a session ready to deliver, telling {@code trace} each step, or says why not. */
    UpstreamSession open(SessionTrace trace) throws SessionOpenException;

    /**
     * Opens a session authenticated as {@code login} (one of the upstream's per-sender logins),
     * which carries only that login's mail. Forwarders without logins open their one kind.
     */
    default UpstreamSession open(SessionTrace trace, Login login) throws SessionOpenException {
        return open(trace);
    }

    /** Opens a session ready to deliver, or says why not. */
    default UpstreamSession open() throws SessionOpenException {
        return open(SessionTrace.NONE);
    }

    /**
     * A stamp of the secrets this upstream uses (equal stamps: unchanged), so that a fixed secrets
     * file ends a configuration backoff at once; null when it uses none.
     */
    default Object secretsStamp() {
        return null;
    }

    /**
     * The forwarder {@code upstream} configures. Reads its credentials and CA file now, so a bad
     * secrets file fails at start.
     */
    static Forwarder of(UpstreamConfig upstream, ForwardConfig forward) throws IOException {
        return of(upstream, forward, UpstreamSizes.NONE);
    }

    /** As above; an SMTP upstream records the SIZE its EHLO advertises in {@code sizes}. */
    static Forwarder of(UpstreamConfig upstream, ForwardConfig forward, UpstreamSizes sizes) throws IOException {
        return upstream.isOutbox() ? new OutboxForwarder(upstream) : new SmtpConnector(upstream, forward, sizes);
    }
}
