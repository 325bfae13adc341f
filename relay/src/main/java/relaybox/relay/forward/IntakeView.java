package relaybox.relay.forward;

import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;
import relaybox.relay.intake.UpstreamFacts;

import java.nio.charset.StandardCharsets;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * The forwarder's answers to the intake ({@link UpstreamFacts}), from the configuration and the
 * SIZE each upstream last advertised ({@link UpstreamSizes}): a sender's mail may go to any
 * upstream of its route ({@link SenderRoute}: failover), so its limit is the largest among them,
 * less the header lines that upstream adds ({@code headers}); an upstream with no known limit
 * (or an outbox) lifts it. The From rewrite is decided once, at intake, where the message is
 * signed: that of the login the first upstream of the route uses for the sender, else that
 * upstream's own. Thread safe.
 */
public final class IntakeView implements UpstreamFacts {

    private final List<UpstreamConfig> upstreams;
    private final UpstreamSizes sizes;
    private final Map<UpstreamConfig, SenderLogins> logins = new HashMap<>();

    public IntakeView(ForwardConfig cfg, UpstreamSizes sizes) {
        this.upstreams = cfg.upstreams();
        this.sizes = sizes;
        upstreams.forEach(u -> logins.put(u, new SenderLogins(u)));
    }

    @Override
    public long largestMessage() {
        return largest(upstreams).bytes();
    }

    @Override
    public Limit limitFor(String sender) {
        return largest(SenderRoute.route(upstreams, sender));
    }

    private Limit largest(List<UpstreamConfig> among) {
        Limit best = null;
        for (UpstreamConfig u : among) {
            long size = u.isOutbox() ? 0 : sizes.limit(u);
            if (size <= 0) {
                return Limit.NONE;
            }
            long extra = 0;
            for (String h : u.headers()) {
                extra += h.getBytes(StandardCharsets.UTF_8).length + 2;
            }
            long room = Math.max(0, size - extra);
            if (best == null || room > best.bytes()) {
                best = new Limit(room, u.name());
            }
        }
        return best == null ? Limit.NONE : best;
    }

    @Override
    public String fromRewrite(String sender) {
        UpstreamConfig first = SenderRoute.route(upstreams, sender).get(0);
        Login l = logins.get(first).pick(sender);
        if (l.index() >= 0 && !first.logins().get(l.index()).fromRewrite().isEmpty()) {
            return first.logins().get(l.index()).fromRewrite();
        }
        return first.fromRewrite();
    }
}
