package relaybox.relay.forward;

import java.time.Duration;
import java.time.Instant;

/**
 * Owns how hard one upstream is pushed after it said it is throttling us ({@code 454 Throttling},
 * {@code 432 4.3.2}, {@code 450 4.2.1}, {@code 421 4.7.0 Try again later}): additive increase,
 * multiplicative decrease, as TCP does. Each throttling reply halves the sessions the upstream may
 * use at once (never below one) and stops sending on it for a cool-down that starts at
 * {@link #FIRST_COOLDOWN} and doubles while throttling replies keep coming, up to
 * {@link #MAX_COOLDOWN}; after each quiet {@link #RAISE_EVERY} one session is given back, until
 * the configured number is reached. Why: the providers' limits are on connections (Microsoft: 3
 * per mailbox) and on rate (SES: 14/s), and neither says how long to wait; halving finds the
 * limit in a few replies, and creeping back finds it again if it was raised.
 * Thread safe; time is passed in, so it is table-tested without sleeping.
 */
final class Throttle {

    static final Duration FIRST_COOLDOWN = Duration.ofSeconds(1);
    static final Duration MAX_COOLDOWN = Duration.ofSeconds(60);
    static final Duration RAISE_EVERY = Duration.ofMinutes(1);

    private final int max;
    private int cap;
    private Duration cooldown = Duration.ZERO;
    private Instant quietAt = Instant.EPOCH;
    private Instant raiseAt = Instant.MAX;

    /** @param max the sessions the configuration allows */
    Throttle(int max) {
        this.max = Math.max(1, max);
        this.cap = this.max;
    }

    /** A throttling reply came at {@code now}; returns how long to send nothing. */
    synchronized Duration throttled(Instant now) {
        cap = Math.max(1, cap / 2);
        // Throttled again before the last cool-down (and as long again) was over: wait longer.
        cooldown = now.isBefore(quietAt) ? min(cooldown.multipliedBy(2), MAX_COOLDOWN) : FIRST_COOLDOWN;
        quietAt = now.plus(cooldown.multipliedBy(2));
        raiseAt = now.plus(RAISE_EVERY);
        return cooldown;
    }

    /** How many sessions the upstream may use at {@code now}. */
    synchronized int cap(Instant now) {
        while (cap < max && !now.isBefore(raiseAt)) {
            cap++;
            raiseAt = raiseAt.plus(RAISE_EVERY);
        }
        return cap;
    }

    private static Duration min(Duration a, Duration b) {
        return a.compareTo(b) <= 0 ? a : b;
    }
}
