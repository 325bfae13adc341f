package relaybox.relay.forward;

import relaybox.queue.QueueEntry;

import java.util.List;
import java.util.Locale;

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
        String sender = e.envelope().sender();
        String domain = sender.substring(sender.lastIndexOf('@') + 1).toLowerCase(Locale.ROOT);
        List<Upstream> routed = upstreams.stream().filter(u -> !domain.isEmpty() && u.routes(domain)).toList();
        if (!routed.isEmpty()) {
            return routed;
        }
        List<Upstream> defaults = upstreams.stream().filter(Upstream::isDefaultRoute).toList();
        return defaults.isEmpty() ? upstreams : defaults;
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
