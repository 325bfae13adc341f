package relaybox.relay.control;

import java.time.Instant;
import java.util.List;

/**
 * What the control API needs to know about the running daemon beyond the queue: its listeners,
 * the state of each upstream link and recent throughput. The daemon implements it (the intake
 * and the forwarder feed it); the control service only reads it, from its own threads, so every
 * method must be cheap and thread-safe.
 */
public interface StatusSource {

    /** When the daemon started. */
    Instant startedAt();

    /** Every listener the daemon serves, for example ("intake", "127.0.0.1:25"). */
    List<Listener> listeners();

    /** One row per configured upstream. */
    List<Link> links();

    /** Messages accepted by the intake and delivered upstream, counted up to {@code now}. */
    Throughput throughput(Instant now);

    /** @param name what serves there ("intake", "metrics"); @param address "host:port" */
    record Listener(String name, String address) { }

    /**
     * @param upstream the upstream's name or host:port as configured
     * @param state    one word: "up" (a session is open and verified), "idle" (no session needed
     *                 now), "connecting", "down" (the last attempt failed), "backoff" (the upstream
     *                 refused our configuration: probed at growing intervals), "paused" (by an
     *                 operator, a used-up quota or sender throttling; no session is opened)
     * @param detail   what the operator needs to act on, e.g. the last error; "" if none
     * @param since    when the link entered this state (recorded at the transition)
     * @param nextAttempt when a down link is probed next, or a paused one resumes; null when up,
     *                    unknown, or paused until an operator resumes it
     */
    record Link(String upstream, String state, String detail, Instant since, Instant nextAttempt) {
        public Link(String upstream, String state, String detail, Instant since) {
            this(upstream, state, detail, since, null);
        }

        /** Down, backing off after a configuration-class failure, or paused: no mail goes through it. */
        public boolean down() {
            return "down".equals(state) || "backoff".equals(state) || "paused".equals(state);
        }
    }

    record Throughput(long acceptedLastMinute, long acceptedLastHour, long deliveredLastMinute,
                      long deliveredLastHour) { }

    /** For tools without a daemon (offline mode, tests): no listeners, no links, no counts. */
    static StatusSource none(Instant startedAt) {
        return new StatusSource() {
            @Override
            public Instant startedAt() {
                return startedAt;
            }

            @Override
            public List<Listener> listeners() {
                return List.of();
            }

            @Override
            public List<Link> links() {
                return List.of();
            }

            @Override
            public Throughput throughput(Instant now) {
                return new Throughput(0, 0, 0, 0);
            }
        };
    }
}
