package relaybox.relay.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;

import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Owns, for {@link RelayMetrics}, what is known about each upstream link as a whole: its last
 * reported state and pause, exported as the gauges {@code relaybox_upstream_link_state} and
 * {@code relaybox_upstream_paused}, and the words behind them (why a link is down, what paused it
 * until when), which only {@code /healthz} shows. Kept apart from the event counters because it
 * is state that is read back ({@link HealthSource}), not a count. Any thread.
 */
final class LinkGauges {

    private final MeterRegistry registry;
    private final Map<String, LinkState> links = new ConcurrentHashMap<>();
    private final Map<String, String> linkReasons = new ConcurrentHashMap<>();
    private final Map<String, String> pauses = new ConcurrentHashMap<>();
    private final Set<String> pauseGauges = ConcurrentHashMap.newKeySet();

    LinkGauges(MeterRegistry registry) {
        this.registry = registry;
    }

    void linkState(String upstream, LinkState state) {
        if (links.put(upstream, state) == null) {
            // One series per state, registered once: a gauge reads the map, so later changes
            // need no registration.
            for (LinkState s : LinkState.values()) {
                Gauge.builder("relaybox.upstream.link.state", () -> links.get(upstream) == s ? 1 : 0)
                        .description("1 for the upstream link's current state (up, down, probing, backoff, paused),"
                                + " else 0")
                        .tags("upstream", upstream, "state", s.word())
                        .register(registry);
            }
        }
    }

    void linkState(String upstream, LinkState state, String reason) {
        linkState(upstream, state);
        if (state == LinkState.UP) {
            linkReasons.remove(upstream);
        } else if (reason != null && !reason.isEmpty()) {
            linkReasons.put(upstream, reason);
        }
    }

    void upstreamPaused(String upstream, String detail) {
        if (pauseGauges.add(upstream)) {
            Gauge.builder("relaybox.upstream.paused", () -> pauses.containsKey(upstream) ? 1 : 0)
                    .description("1 while the upstream is paused (by an operator, a used-up quota or sender"
                            + " throttling), else 0")
                    .tags("upstream", upstream)
                    .register(registry);
        }
        if (detail == null) {
            pauses.remove(upstream);
        } else {
            pauses.put(upstream, detail);
        }
    }

    Map<String, String> pauseDetails() {
        return new TreeMap<>(pauses);
    }

    Map<String, LinkState> linkStates() {
        return new TreeMap<>(links);
    }

    Map<String, String> linkReasons() {
        return new TreeMap<>(linkReasons);
    }
}
