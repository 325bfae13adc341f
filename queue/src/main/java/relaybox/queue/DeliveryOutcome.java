package relaybox.queue;

import java.util.Objects;

/**
 * What one delivery attempt did for one recipient, as the queue records it. The forwarder
 * classifies once (its {@code Outcome}, made only by its failure policy) and hands the queue this
 * projection of it; the queue keeps no more than the disposition and the reply. {@code reply} is the upstream's literal reply (or, for a local
 * failure such as a timeout, a sentence naming the stage), kept for the log and the admin CLI.
 */
public sealed interface DeliveryOutcome {

    String reply();

    record Delivered(String reply) implements DeliveryOutcome {
        public Delivered { Objects.requireNonNull(reply); }
    }

    /** Temporary: try again later. Anything the policy cannot classify ends up here. */
    record Deferred(String reply) implements DeliveryOutcome {
        public Deferred { Objects.requireNonNull(reply); }
    }

    /** Permanent: never retried for this recipient. */
    record Failed(String reply) implements DeliveryOutcome {
        public Failed { Objects.requireNonNull(reply); }
    }
}
