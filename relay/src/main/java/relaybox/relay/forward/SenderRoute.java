package relaybox.relay.forward;

import relaybox.relay.config.UpstreamConfig;

import java.util.List;
import java.util.Locale;

/**
 * Owns the routing rule by envelope sender, on the configuration alone: the upstreams whose
 * {@code sender_domains} name the sender's domain, else the default routes (upstreams without
 * sender_domains), else all; configuration order is the failover order. {@link Routing} applies
 * it to the live upstreams (skipping open circuits); the intake asks it which upstreams' SIZE and
 * From rewrite apply to a sender. Pure.
 */
public final class SenderRoute {

    private SenderRoute() {
    }

    /** The upstreams that may carry mail from {@code sender}, in preference order (never empty). */
    public static List<UpstreamConfig> route(List<UpstreamConfig> upstreams, String sender) {
        String domain = sender.substring(sender.lastIndexOf('@') + 1).toLowerCase(Locale.ROOT);
        List<UpstreamConfig> routed = upstreams.stream()
                .filter(u -> !domain.isEmpty() && u.senderDomains().contains(domain)).toList();
        if (!routed.isEmpty()) {
            return routed;
        }
        List<UpstreamConfig> defaults = upstreams.stream().filter(u -> u.senderDomains().isEmpty()).toList();
        return defaults.isEmpty() ? upstreams : defaults;
    }
}
