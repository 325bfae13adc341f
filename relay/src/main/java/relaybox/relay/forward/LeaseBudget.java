package relaybox.relay.forward;

import java.util.concurrent.TimeUnit;

/**
 * Owns how many entries the dispatcher may hold leased at once: {@code forward_concurrency} times
 * {@link Dispatcher#AHEAD_PER_SESSION}, reserved a batch at a time and given back one by one as
 * workers finish. The dispatcher waits here for room; a worker's release wakes it once there is
 * room for a batch ({@code refill}), not for every message. Thread safe.
 */
final class LeaseBudget {

    private static final int MAX_BATCH = 32;

    private final int limit;
    /** How much room the dispatcher waits for before it leases again. */
    private final int refill;
    /** Entries leased and not yet recorded or given back: at most {@link #limit}. */
    private int leased;

    LeaseBudget(int limit) {
        this.limit = limit;
        this.refill = Math.max(1, Math.min(MAX_BATCH, limit / 2));
    }

    /** {@code n} leased entries are done with (recorded, given back, or never leased). */
    synchronized void release(int n) {
        if (n == 0) {
            return;
        }
        leased -= n;
        // Wake the dispatcher once there is room for a batch, not for every message.
        if (limit - leased >= refill) {
            notify();
        }
    }

    /**
     * Waits up to 250 ms until a batch may be leased (at least {@code refill} free, or
     * everything when less is in flight) and reserves it: how many, up to {@code MAX_BATCH}.
     * Returns 0 on timeout with some room left unreserved, so that the loop checks its state.
     */
    synchronized int reserve() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(250);
        while (limit - leased < refill) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                break;
            }
            wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
        }
        int n = Math.min(MAX_BATCH, limit - leased);
        leased += n;
        return n;
    }
}
