package relaybox.relay.metrics;

import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.CrossCheckProgress;
import relaybox.queue.EntryState;

import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Owns, for {@link RelayMetrics}, the gauges sampled once per scrape: queue depth by state, the
 * age of the oldest waiting message, the queue's cross-check after an unclean stop (its phase and
 * figures), and the store's size and free space. The bound suppliers are
 * read together into one {@link ScrapeSample} before each scrape, so every gauge of one scrape
 * sees the same moment and a slow supplier is asked once, not once per series. Any thread.
 */
final class QueueGauges {

    /** RelayMetrics' logger: the sampling warning keeps the name operators already filter on. */
    private static final Logger LOG = LoggerFactory.getLogger(RelayMetrics.class);

    /** Entry states shown as queue depth; DELIVERED entries are removed at once and never counted. */
    static final List<EntryState> DEPTH_STATES = List.of(EntryState.QUEUED, EntryState.SENDING, EntryState.DEFERRED,
            EntryState.HELD, EntryState.FAILED, EntryState.QUARANTINED);

    /** States of mail still waiting for the upstream: what "age of the oldest queued message" means. */
    static final Set<EntryState> WAITING = Set.of(EntryState.QUEUED, EntryState.SENDING, EntryState.DEFERRED);

    private final MeterRegistry registry;
    private volatile ScrapeSample.Sampler sampler = ScrapeSample.Sampler.NONE;
    private volatile ScrapeSample sample = ScrapeSample.EMPTY;

    QueueGauges(MeterRegistry registry) {
        this.registry = registry;
    }

    void bindQueue(Supplier<Map<EntryState, Long>> counts, Supplier<Optional<Instant>> oldestWaiting, Clock clock) {
        sampler = sampler.withQueue(counts, oldestWaiting, clock);
        for (EntryState s : DEPTH_STATES) {
            Gauge.builder("relaybox.queue.entries", () -> sample.counts().getOrDefault(s, 0L))
                    .description("Queue entries by state").tag("state", s.word()).register(registry);
        }
        Gauge.builder("relaybox.queue.oldest.age", () -> sample.oldestAgeSeconds()).baseUnit("seconds")
                .description("Age of the oldest message waiting for the upstream (0 when none)").register(registry);
    }

    /**
     * The cross-check's phase as one series per phase (1 for the current one), and its figures:
     * a check at 1M entries runs for minutes and holds spool segments, so it is worth a graph.
     */
    void bindCrossCheck(Supplier<CrossCheckProgress> progress) {
        sampler = sampler.withCrossCheck(progress);
        for (CrossCheckProgress.Phase p : CrossCheckProgress.Phase.values()) {
            Gauge.builder("relaybox.queue.crosscheck.phase", () -> sample.crossCheck().phase() == p ? 1 : 0)
                    .description("1 for the phase of the queue's cross-check after an unclean stop (none, rescue,"
                            + " audit, done, failed), else 0")
                    .tag("phase", p.word()).register(registry);
        }
        gauge("relaybox.queue.crosscheck.segments", "Spool segments the cross-check reads (present at the open)",
                () -> sample.crossCheck().segments());
        gauge("relaybox.queue.crosscheck.segments.scanned", "Spool segments the cross-check has read",
                () -> sample.crossCheck().segmentsScanned());
        gauge("relaybox.queue.crosscheck.entries.audited", "Index entries the cross-check has audited",
                () -> sample.crossCheck().entriesAudited());
        gauge("relaybox.queue.crosscheck.entries.rescued", "Entries the index had lost, queued again from the spool",
                () -> sample.crossCheck().entriesRescued());
        gauge("relaybox.queue.crosscheck.repairs", "Index keys and counts the cross-check repaired",
                () -> sample.crossCheck().repairs());
        Gauge.builder("relaybox.queue.crosscheck.duration", () -> sample.crossCheckSeconds()).baseUnit("seconds")
                .description("How long the cross-check has run (or ran, once ended); 0 when none")
                .register(registry);
    }

    private void gauge(String name, String description, Supplier<Number> value) {
        Gauge.builder(name, value).description(description).register(registry);
    }

    void bindStore(Path queueDir, long minFreeSpace) {
        sampler = sampler.withStore(queueDir);
        Gauge.builder("relaybox.store.size", () -> sample.storeBytes()).baseUnit("bytes")
                .description("Bytes used by the queue store and spool").register(registry);
        Gauge.builder("relaybox.store.free", () -> sample.freeBytes()).baseUnit("bytes")
                .description("Usable bytes on the queue's filesystem").register(registry);
        Gauge.builder("relaybox.store.min.free", () -> minFreeSpace).baseUnit("bytes")
                .description("queue_min_free_space: below this, intake refuses with 452").register(registry);
    }

    /** Reads the bound suppliers once, for the scrape about to be written. */
    void refresh() {
        try {
            sample = sampler.take();
        } catch (RuntimeException e) {
            // A failing supplier must not break the scrape of everything else; the old sample stays.
            LOG.warn("metrics: sampling the queue failed: {}", e.toString());
        }
    }
}
