package relaybox.relay.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.MeterRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Owns, for {@link RelayMetrics}, one counter per name and label values (made on first use), and
 * keeps label values to their fixed sets: anything else counts as {@code other} and is warned
 * about once, because a free-text label would create a time series per value. Names no metric
 * itself. Any thread.
 */
final class Labels {

    /** RelayMetrics' logger: these warnings keep the name operators already filter on. */
    private static final Logger LOG = LoggerFactory.getLogger(RelayMetrics.class);

    private final MeterRegistry registry;
    private final Map<String, Counter> counters = new ConcurrentHashMap<>();
    private final Set<String> warned = ConcurrentHashMap.newKeySet();

    Labels(MeterRegistry registry) {
        this.registry = registry;
    }

    /** The counter {@code name} with these tags ("key", "value", ...); {@code unit} may be null. */
    Counter counter(String name, String unit, String description, String[] tags) {
        String key = name + '\0' + String.join("\0", tags);
        return counters.computeIfAbsent(key, k -> Counter.builder(name).baseUnit(unit).description(description)
                .tags(tags).register(registry));
    }

    /** {@code value} when it is one of {@code allowed}, else "other" (warned once per value). */
    String bounded(String label, String value, Set<String> allowed) {
        if (value != null && allowed.contains(value)) {
            return value;
        }
        if (warned.add(label + "=" + value)) {
            LOG.warn("metrics: {}=\"{}\" is not one of {}; counted as other", label, value, new TreeSet<>(allowed));
        }
        return "other";
    }
}
