package relaybox.queue.mapdb;

import java.io.IOException;

/**
 * Owns the queue's reading of free space on its filesystem. A statvfs per MAIL and per accept was
 * 2% of the intake's CPU at a few thousand messages a second, so a reading is reused for at most
 * {@link #MAX_AGE_NANOS}, with the bytes the queue wrote since subtracted; it is read again at once
 * whenever that estimate comes within {@link #MARGIN} of the reserve, so near the reserve (a small
 * or full disk, and when space comes back) every check is a fresh reading, as before.
 */
final class FreeSpace {

    static final long MAX_AGE_NANOS = 100_000_000L;
    static final long MARGIN = 256L << 20;

    /** Where readings come from (statvfs in production). */
    interface Source {
        long usableSpace() throws IOException;
    }

    private final Source source;
    private final long reserve;
    private long reading;
    private long readAt;
    private long writtenSince;
    private boolean valid;

    FreeSpace(Source source, long reserve) {
        this.source = source;
        this.reserve = reserve;
    }

    /** Free bytes as best known at {@code nanoTime}: a fresh reading unless a recent one is far from the reserve. */
    synchronized long free(long nanoTime) throws IOException {
        long estimate = reading - writtenSince;
        if (!valid || nanoTime - readAt > MAX_AGE_NANOS || nanoTime - readAt < 0 || estimate - reserve < MARGIN) {
            reading = source.usableSpace();
            readAt = nanoTime;
            writtenSince = 0;
            valid = true;
            estimate = reading;
        }
        return estimate;
    }

    /** The queue wrote {@code bytes} since the last reading. */
    synchronized void wrote(long bytes) {
        writtenSince += bytes;
    }
}
