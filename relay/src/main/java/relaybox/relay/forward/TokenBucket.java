package relaybox.relay.forward;

/**
 * Owns one upstream's message rate: a token bucket of {@code ratePerSecond} tokens a second
 * holding at most one second's worth, so a quiet period allows a short burst but never more than
 * the ESP's per-second quota. A rate of 0 means no limit. A throttling reply pauses it.
 * Thread safe.
 */
final class TokenBucket {

    private final double rate;
    private final double capacity;
    private double tokens;
    private long last;
    private long pausedUntil;

    TokenBucket(double ratePerSecond) {
        this.rate = ratePerSecond;
        this.capacity = Math.max(1, ratePerSecond);
        this.tokens = capacity;
        this.last = System.nanoTime();
    }

    /** Waits for a token. */
    void acquire() throws InterruptedException {
        if (rate <= 0 && pausedUntil == 0) {
            return;
        }
        while (true) {
            long wait;
            synchronized (this) {
                long now = System.nanoTime();
                if (now - pausedUntil < 0) {
                    wait = pausedUntil - now;
                } else {
                    if (rate <= 0) {
                        return;
                    }
                    tokens = Math.min(capacity, tokens + (now - last) * rate / 1e9);
                    last = now;
                    if (tokens >= 1) {
                        tokens -= 1;
                        return;
                    }
                    wait = (long) ((1 - tokens) / rate * 1e9);
                }
            }
            Thread.sleep(Math.max(1, wait / 1_000_000));
        }
    }

    /** The upstream said it is throttling us: send nothing for {@code millis}. */
    synchronized void pause(long millis) {
        pausedUntil = System.nanoTime() + millis * 1_000_000;
        tokens = 0;
    }
}
