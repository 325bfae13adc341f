package relaybox.relay.control;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Clock;
import java.time.Duration;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Owns the retention of failed mail: every {@link #INTERVAL} it purges the FAILED entries queued
 * longer ago than {@code queue_failed_retention}, through {@link ControlService#purgeFailed}, so
 * each gets the same "queue purged" mail-log line as {@code relaybox queue purge --failed}. A
 * failed entry is kept that long for the operator (to read its reply, requeue or delete it),
 * then it stops costing disk. Does not decide what failed; the queue does.
 */
public final class RetentionSweep implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(RetentionSweep.class);
    static final Duration INTERVAL = Duration.ofMinutes(10);

    private final ControlService service;
    private final Duration retention;
    private final Clock clock;
    private final ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "queue-retention");
        t.setDaemon(true);
        return t;
    });

    private RetentionSweep(ControlService service, Duration retention, Clock clock) {
        this.service = service;
        this.retention = retention;
        this.clock = clock;
    }

    /** Starts sweeping: the first sweep a minute after start, then every {@link #INTERVAL}. */
    public static RetentionSweep start(ControlService service, Duration retention, Clock clock) {
        RetentionSweep s = new RetentionSweep(service, retention, clock);
        s.timer.scheduleWithFixedDelay(s::sweepQuietly, 60, INTERVAL.toSeconds(), TimeUnit.SECONDS);
        return s;
    }

    /** Purges once; returns how many went. */
    long sweep() throws InterruptedException {
        long n = service.purgeFailed(clock.instant().minus(retention),
                "failed for longer than queue_failed_retention (" + ConfigWords.duration(retention) + ")");
        if (n > 0) {
            LOG.info("retention: {} failed entries older than {} purged", n, ConfigWords.duration(retention));
        }
        return n;
    }

    private void sweepQuietly() {
        try {
            sweep();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (RuntimeException e) {
            // The next sweep tries again; a failure here must not end the schedule.
            LOG.error("retention sweep failed", e);
        }
    }

    /** Durations as the config file writes them: 5d, 2h, 30m, 45s. */
    static final class ConfigWords {
        private ConfigWords() {
        }

        static String duration(Duration d) {
            long s = d.getSeconds();
            if (s % 86400 == 0) {
                return s / 86400 + "d";
            }
            if (s % 3600 == 0) {
                return s / 3600 + "h";
            }
            if (s % 60 == 0) {
                return s / 60 + "m";
            }
            return s + "s";
        }
    }

    @Override
    public void close() {
        timer.shutdownNow();
    }
}
