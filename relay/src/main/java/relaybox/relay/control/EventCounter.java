package relaybox.relay.control;

import java.time.Instant;

/**
 * Counts events (messages accepted, messages delivered) per second over the last hour, so the
 * daemon can answer "how many in the last minute / hour" for {@link StatusSource#throughput}.
 * One slot per second in a ring of 3,600; a slot is reused when its second has passed out of the
 * window. Memory is fixed (about 58 KB) whatever the rate.
 *
 * <p>Thread safety: all methods are synchronized; the cost is a few array operations per event.
 */
public final class EventCounter {

    private static final int WINDOW = 3600;
    private final long[] second = new long[WINDOW];
    private final long[] count = new long[WINDOW];

    public synchronized void record(Instant at) {
        long s = at.getEpochSecond();
        int i = (int) Math.floorMod(s, (long) WINDOW);
        if (second[i] != s) {
            second[i] = s;
            count[i] = 0;
        }
        count[i]++;
    }

    /** Events in the {@code seconds} seconds up to and including {@code now}'s second. */
    public synchronized long countLast(int seconds, Instant now) {
        long end = now.getEpochSecond();
        long start = end - Math.min(seconds, WINDOW) + 1;
        long sum = 0;
        for (int i = 0; i < WINDOW; i++) {
            if (second[i] >= start && second[i] <= end) {
                sum += count[i];
            }
        }
        return sum;
    }

    public long lastMinute(Instant now) {
        return countLast(60, now);
    }

    public long lastHour(Instant now) {
        return countLast(WINDOW, now);
    }
}
