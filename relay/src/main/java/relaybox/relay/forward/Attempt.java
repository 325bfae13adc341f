package relaybox.relay.forward;

import relaybox.queue.DeliveryOutcome;

import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * What one upstream session did with one message: an outcome per recipient it tried (each
 * knowing its stage, class and reply) and the upstream as logs show it ("host[ip]:port").
 */
public record Attempt(Map<String, Outcome> outcomes, String upstream) {

    public Attempt {
        outcomes = Map.copyOf(outcomes);
    }

    /** The outcomes as the queue records them. */
    Map<String, DeliveryOutcome> forQueue() {
        Map<String, DeliveryOutcome> out = new LinkedHashMap<>();
        outcomes.forEach((r, o) -> out.put(r, o.toQueue()));
        return out;
    }

    /**
     * The outcome the queue records last of {@code pending} (the entry's recipients in order), whose
     * reply becomes the entry's last reply; empty when none was reported (the queue then defers).
     */
    Optional<Outcome> last(List<String> pending) {
        Outcome last = null;
        for (String r : pending) {
            last = outcomes.get(r);
        }
        return Optional.ofNullable(last);
    }
}
