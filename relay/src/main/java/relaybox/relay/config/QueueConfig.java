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
 */
public record QueueConfig(Path dir, long minFreeSpace, RetrySchedule retry) {

    public static final Path DEFAULT_DIR = Path.of("/var/lib/relaybox");
    public static final long DEFAULT_MIN_FREE_SPACE = 256L << 20;

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
        return new QueueConfig(dir, free, new RetrySchedule(min, max, life, d.jitter()));
    }
}
