package relaybox.relay.forward;

import java.time.Instant;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;

/**
 * One upstream's pause: while it lasts no session is opened to the upstream, its mail stays
 * queued (not bounced, no attempt spent) or goes to the next upstream of its route. Paused by an
 * operator ({@code relaybox upstream pause}), or by the upstream's own reply: a used-up daily quota,
 * or Microsoft's sender throttling. Immutable.
 *
 * @param cause  who or what paused it
 * @param since  when it was paused
 * @param until  when it resumes by itself; null: only when an operator resumes it
 * @param reason the upstream's literal reply, or who paused it ("by uid 0")
 */
public record Pause(Cause cause, Instant since, Instant until, String reason) {

    /** Who or what paused the upstream; {@link #word()} is its name in status, metrics and logs. */
    public enum Cause {
        OPERATOR,
        /** A daily quota answered with 5xx (Google 550 5.4.5, Microsoft 554 5.2.0 STOREDRV quota). */
        QUOTA,
        /** Microsoft's 5.2.251-5.2.255 sender throttling: retries would extend it. */
        THROTTLED;

        public String word() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Optional<Cause> of(String word) {
            for (Cause c : values()) {
                if (c.word().equals(word)) {
                    return Optional.of(c);
                }
            }
            return Optional.empty();
        }
    }

    public Pause {
        Objects.requireNonNull(cause);
        Objects.requireNonNull(since);
        Objects.requireNonNull(reason);
    }

    /** True once {@code now} has reached {@link #until}. */
    public boolean expired(Instant now) {
        return until != null && !now.isBefore(until);
    }

    /** For status and health: "quota, until 2026-12-06T10:00:00Z: 550 5.4.5 ...". */
    public String describe() {
        return cause.word() + (until == null ? ", until resumed" : ", until " + until) + ": " + reason;
    }
}
