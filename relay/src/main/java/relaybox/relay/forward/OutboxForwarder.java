package relaybox.relay.forward;

import relaybox.relay.config.UpstreamConfig;

import java.io.IOException;
import java.util.List;

/** Opens {@link OutboxSession}s for an outbox upstream: the development stand-in for an ESP. */
final class OutboxForwarder implements Forwarder {

    private final UpstreamConfig upstream;

    OutboxForwarder(UpstreamConfig upstream) {
        this.upstream = upstream;
    }

    @Override
    public UpstreamSession open(SessionTrace trace) throws SessionOpenException {
        try {
            UpstreamSession s = new OutboxSession(upstream.dir(), upstream.headers());
            trace.step("outbox", true, "writable: " + upstream.dir());
            return s;
        } catch (IOException e) {
            trace.step("outbox", false, "not writable: " + upstream.dir());
            throw new SessionOpenException("outbox[" + upstream.dir() + "]",
                    new FailurePolicy(List.of()).exception(Stage.CONNECT, e));
        }
    }
}
