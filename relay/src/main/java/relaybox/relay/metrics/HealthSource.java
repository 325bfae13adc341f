package relaybox.relay.metrics;

import relaybox.queue.CrossCheckProgress;
import relaybox.queue.Queue;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * What {@link Health} is judged from: the store, the free space under the queue and the upstream
 * links. The daemon implements it (usually with {@link #of}); tests use a fake. Each method is
 * called once per {@code /healthz} request, so each must be cheap and must not block on the
 * store's committer.
 */
public interface HealthSource {

    /** True when the intake is bound and accepting connections. */
    boolean intakeAccepting();

    /** True when the store accepted its last commit ({@link Queue#healthy()}). */
    boolean storeHealthy();

    /** Usable bytes on the queue's filesystem, or -1 when it cannot be read. */
    long freeSpace();

    /** {@code queue_min_free_space}: below this the intake refuses new mail. */
    long minFreeSpace();

    /** The state of each configured upstream link, by upstream name. */
    Map<String, LinkState> links();

    /** Why a link that is not up is so (the provider's or upstream's words), by upstream name; may lack any. */
    default Map<String, String> linkReasons() {
        return Map.of();
    }

    /** For each paused upstream, by name: by what and until when ("quota, until ...: 550 5.4.5 ..."). */
    default Map<String, String> pauses() {
        return Map.of();
    }

    /** The queue's cross-check after an unclean stop ({@link Queue#crossCheckProgress()}). */
    default CrossCheckProgress crossCheck() {
        return CrossCheckProgress.NONE;
    }

    /**
     * The usual source: {@code queue.healthy()}, the usable space of {@code queueDir}'s
     * filesystem, and link states as reported to {@link RelayMetrics#linkState}.
     */
    static HealthSource of(Queue queue, Path queueDir, long minFreeSpace, BooleanSupplier intakeAccepting,
                           Supplier<Map<String, LinkState>> links) {
        return of(queue, queueDir, minFreeSpace, intakeAccepting, links, Map::of);
    }

    /** As above, with why each link is down ({@link RelayMetrics#linkReasons}). */
    static HealthSource of(Queue queue, Path queueDir, long minFreeSpace, BooleanSupplier intakeAccepting,
                           Supplier<Map<String, LinkState>> links, Supplier<Map<String, String>> reasons) {
        return of(queue, queueDir, minFreeSpace, intakeAccepting, links, reasons, Map::of);
    }

    /** As above, with each paused upstream's pause as reported to {@link RelayMetrics#upstreamPaused}. */
    static HealthSource of(Queue queue, Path queueDir, long minFreeSpace, BooleanSupplier intakeAccepting,
                           Supplier<Map<String, LinkState>> links, Supplier<Map<String, String>> reasons,
                           Supplier<Map<String, String>> pauses) {
        return new HealthSource() {
            @Override
            public Map<String, String> linkReasons() {
                return reasons.get();
            }

            @Override
            public Map<String, String> pauses() {
                return pauses.get();
            }

            @Override
            public boolean intakeAccepting() {
                return intakeAccepting.getAsBoolean();
            }

            @Override
            public boolean storeHealthy() {
                return queue.healthy();
            }

            @Override
            public CrossCheckProgress crossCheck() {
                return queue.crossCheckProgress();
            }

            @Override
            public long freeSpace() {
                try {
                    return Files.getFileStore(queueDir).getUsableSpace();
                } catch (IOException e) {
                    return -1;
                }
            }

            @Override
            public long minFreeSpace() {
                return minFreeSpace;
            }

            @Override
            public Map<String, LinkState> links() {
                return links.get();
            }
        };
    }
}
