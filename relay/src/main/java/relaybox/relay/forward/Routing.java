package relaybox.relay.forward;

import relaybox.queue.QueueEntry;

import java.util.List;

/**
 * Owns which upstreams may carry an entry, in preference order: the upstreams whose
 * {@code sender_domains} name the sender's domain, else the default routes (upstreams without
 * sender_domains), else all; within that list the configuration order is the failover order,
 * and an upstream whose circuit is open, or which is paused, is skipped. It does not lease, send or probe.
 * Thread safe: the upstreams' circuits are.
 */
final class Routing {

    private final List<Upstream> upstreams;

    Routing(List<Upstream> upstreams) {
        this.upstreams = List.copyOf(upstreams);
    }

    /** Upstreams that may carry {@code e}, in preference order (never empty). */
    List<Upstream> route(QueueEntry e) {
        // The rule itself is SenderRoute's, shared with the intake (SIZE, From rewrite).
        List<relaybox.relay.config.UpstreamConfig> routed = SenderRoute.route(
                upstreams.stream().map(u -> u.config).toList(), e.envelope().sender());
        return upstreams.stream().filter(u -> routed.contains(u.config)).toList();
    }

    /** The first upstream of {@code e}'s route that takes mail (up, not paused), or null. */
    Upstream pick(QueueEntry e) {
        for (Upstream u : route(e)) {
            if (u.takesMail()) {
                return u;
            }
        }
        return null;
    }

    /** True when at least one upstream takes mail (up, not paused). */
    boolean anyUp() {
        return upstreams.stream().anyMatch(Upstream::takesMail);
    }
}
