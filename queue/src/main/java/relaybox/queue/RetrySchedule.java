package relaybox.queue;

import java.time.Duration;
import java.time.Instant;

/**
 * Owns retry timing, as a pure function of the attempt count, the time the entry's life started,
 * the current time and a jitter draw. Nothing here sleeps, reads a clock or holds state, so it is
 * tested with a table.
 *
 * <p>The delay doubles from {@code minDelay} with each attempt up to {@code maxDelay}; jitter
 * spreads it by up to ±{@code jitter} so a backlog deferred in one outage does not come back in
 * one burst. An entry whose life is older than {@code lifetime} expires: its pending recipients
 * fail with the last reply they got.
 *
 * @param minDelay first retry delay (default 1 minute)
 * @param maxDelay cap on the delay (default 30 minutes)
 * @param lifetime maximum time in the queue before pending recipients fail (default 5 days)
 * @param jitter   relative spread, 0 to 0.5 (default 0.2)
 */
public record RetrySchedule(Duration minDelay, Duration maxDelay, Duration lifetime, double jitter) {

    public static final RetrySchedule DEFAULT =
            new RetrySchedule(Duration.ofMinutes(1), Duration.ofMinutes(30), Duration.ofDays(5), 0.2);

    public RetrySchedule {
        if (minDelay.isNegative() || minDelay.isZero()) {
            throw new IllegalArgumentException("minimum retry delay must be positive");
        }
        if (maxDelay.compareTo(minDelay) < 0) {
            throw new IllegalArgumentException("maximum retry delay must not be below the minimum");
        }
        if (lifetime.isNegative() || lifetime.isZero()) {
            throw new IllegalArgumentException("queue lifetime must be positive");
        }
        if (!(jitter >= 0 && jitter <= 0.5)) {
            throw new IllegalArgumentException("retry jitter must be between 0 and 0.5");
        }
    }

    /**
     * When to try again after {@code attempts} failed attempts (1 after the first failure).
     *
     * @param draw a uniform random number in [0, 1); 0.5 means no jitter
     */
    public Instant next(int attempts, Instant now, double draw) {
        long capped = minDelay.toMillis();
        for (int i = 1; i < attempts && capped < maxDelay.toMillis(); i++) {
            capped *= 2;
        }
        capped = Math.min(capped, maxDelay.toMillis());
        long spread = Math.round(capped * jitter * (2 * draw - 1));
        return now.plusMillis(Math.max(minDelay.toMillis() / 2, capped + spread));
    }

    /** True when an entry whose life began at {@code lifeStart} must not be retried any more. */
    public boolean expired(Instant lifeStart, Instant now) {
        return !now.isBefore(lifeStart.plus(lifetime));
    }
}
