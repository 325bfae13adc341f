package relaybox.relay.metrics;

import relaybox.queue.CrossCheckProgress;
import relaybox.queue.EntryState;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.EnumMap;
import java.util.Map;
import java.util.Optional;
import java.util.function.Supplier;

/**
 * One reading of everything {@link RelayMetrics} samples per scrape (queue depth by state, age of
 * the oldest waiting message, the queue's cross-check after an unclean stop, store size and free
 * space), and the {@link Sampler} that takes it. Both immutable, so binding and scraping need no lock.
 *
 * @param crossCheckSeconds how long the cross-check has run, or ran; 0 when none
 */
record ScrapeSample(Map<EntryState, Long> counts, double oldestAgeSeconds, CrossCheckProgress crossCheck,
                    double crossCheckSeconds, double storeBytes, double freeBytes) {
    static final ScrapeSample EMPTY = new ScrapeSample(Map.of(), 0, CrossCheckProgress.NONE, 0, Double.NaN,
            Double.NaN);

    /** What to sample; immutable so binding and scraping need no lock. */
    record Sampler(Supplier<Map<EntryState, Long>> counts, Supplier<Optional<Instant>> oldest, Clock clock,
                   Supplier<CrossCheckProgress> crossCheck, Path queueDir) {
        static final Sampler NONE = new Sampler(null, null, null, null, null);

        Sampler withQueue(Supplier<Map<EntryState, Long>> c, Supplier<Optional<Instant>> o, Clock k) {
            return new Sampler(c, o, k, crossCheck, queueDir);
        }

        Sampler withCrossCheck(Supplier<CrossCheckProgress> p) {
            return new Sampler(counts, oldest, clock, p, queueDir);
        }

        Sampler withStore(Path dir) {
            return new Sampler(counts, oldest, clock, crossCheck, dir);
        }

        ScrapeSample take() {
            Map<EntryState, Long> c = counts == null ? Map.of() : new EnumMap<>(counts.get());
            double age = 0;
            if (oldest != null) {
                age = oldest.get().map(t -> Math.max(0, Duration.between(t, clock.instant()).toMillis() / 1000.0))
                        .orElse(0.0);
            }
            CrossCheckProgress check = crossCheck == null ? CrossCheckProgress.NONE : crossCheck.get();
            double checkSeconds = clock == null ? 0 : check.elapsed(clock.instant()).toMillis() / 1000.0;
            double size = Double.NaN;
            double free = Double.NaN;
            if (queueDir != null) {
                StoreStats s = StoreStats.read(queueDir);
                size = s.sizeBytes();
                free = s.freeBytes();
            }
            return new ScrapeSample(c, age, check, checkSeconds, size, free);
        }
    }
}
