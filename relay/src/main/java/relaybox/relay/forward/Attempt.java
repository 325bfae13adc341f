package relaybox.relay.forward;

import relaybox.queue.DeliveryOutcome;

import java.util.Map;

/**
 * What one upstream session did with one message: an outcome per recipient it tried, the stage
 * each outcome came from (for the log), and the upstream as logs show it ("host[ip]:port").
 */
public record Attempt(Map<String, DeliveryOutcome> outcomes, Map<String, Stage> stages, String upstream) {

    public Attempt {
        outcomes = Map.copyOf(outcomes);
        stages = Map.copyOf(stages);
    }
}
