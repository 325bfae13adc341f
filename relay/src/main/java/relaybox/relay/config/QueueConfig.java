package relaybox.relay.config;

import relaybox.queue.RetrySchedule;

import java.nio.file.Path;
import java.time.Duration;

/**
 * The queue's settings ({@code queue_*} keys).
 *
 * @param dir          queue_dir: where the store and the spool live
 * @param minFreeSpace queue_min_free_space: below this much free space intake answers 452
 * @param retry        queue_retry_min, queue_retry_max, queue_lifetime: retry timing
 * @param failedRetention queue_failed_retention: failed entries queued longer ago than this are
 *                     purged by a periodic sweep, each with a mail-log line
 * @param compactLivePercent queue_compact_live_percent: a spool segment whose live bytes are
 *                     below this percentage of its length has its live records copied out and
 *                     is deleted; 0 turns compaction off
 * @param compactMinAge queue_compact_min_age: a segment is compacted only after it has been
 *                     closed this long
 */
public record QueueConfig(Path dir, long minFreeSpace, RetrySchedule retry, Duration failedRetention,
                          int compactLivePercent, Duration compactMinAge) {

    public static final Path DEFAULT_DIR = Path.of("/var/lib/relaybox");
    public static final long DEFAULT_MIN_FREE_SPACE = 256L << 20;
    public static final Duration DEFAULT_FAILED_RETENTION = Duration.ofDays(5);
    public static final int DEFAULT_COMPACT_LIVE_PERCENT = 25;
    public static final Duration DEFAULT_COMPACT_MIN_AGE = Duration.ofMinutes(15);

    /** The settings of a queue in {@code dir} with every other key at its default. */
    public QueueConfig(Path dir, long minFreeSpace, RetrySchedule retry) {
        this(dir, minFreeSpace, retry, DEFAULT_FAILED_RETENTION, DEFAULT_COMPACT_LIVE_PERCENT, DEFAULT_COMPACT_MIN_AGE);
    }

    public static QueueConfig from(ConfigReader r) throws ConfigException {
        Path dir = r.path("queue_dir", DEFAULT_DIR);
        long free = r.size("queue_min_free_space", DEFAULT_MIN_FREE_SPACE);
        RetrySchedule d = RetrySchedule.DEFAULT;
        Duration min = r.duration("queue_retry_min", d.minDelay());
        Duration max = r.duration("queue_retry_max", d.maxDelay());
        Duration life = r.duration("queue_lifetime", d.lifetime());
        if (min.isZero()) {
            throw r.error("queue_retry_min", "must be more than 0", min);
        }
        if (max.compareTo(min) < 0) {
            throw r.error("queue_retry_max", "must not be below queue_retry_min", max);
        }
        if (life.isZero()) {
            throw r.error("queue_lifetime", "must be more than 0", life);
        }
        Duration keep = r.duration("queue_failed_retention", DEFAULT_FAILED_RETENTION);
        if (keep.isZero()) {
            throw r.error("queue_failed_retention", "must be more than 0 (failed mail is kept that long for the operator)",
                    keep);
        }
        int compactBelow = (int) r.integer("queue_compact_live_percent", DEFAULT_COMPACT_LIVE_PERCENT, 0, 90);
        Duration compactAge = r.duration("queue_compact_min_age", DEFAULT_COMPACT_MIN_AGE);
        return new QueueConfig(dir, free, new RetrySchedule(min, max, life, d.jitter()), keep, compactBelow,
                compactAge);
    }
}
