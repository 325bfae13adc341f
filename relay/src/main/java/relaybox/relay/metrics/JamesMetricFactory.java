package relaybox.relay.metrics;

import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import org.apache.james.metrics.api.Metric;
import org.apache.james.metrics.api.MetricFactory;
import org.apache.james.metrics.api.TimeMetric;
import org.reactivestreams.Publisher;

import java.time.Duration;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Bridges James Protocols' {@link MetricFactory} to Micrometer, so the intake can hand it to
 * {@code SMTPProtocolHandlerChain} and James's per-command timings appear as
 * {@code relaybox_intake_command_seconds{command="mail"}}. Owns nothing else.
 *
 * <p>James names its timers {@code "SMTP-" + command} with the command as the client typed it,
 * so an unknown command would become a label value chosen by the client. Only the SMTP verbs in
 * {@link #COMMANDS} become labels; anything else is {@code other}. Counters from
 * {@link #generate} are kept in memory only: protocols-smtp 3.8.1 does not call it.
 */
public final class JamesMetricFactory implements MetricFactory {

    static final Set<String> COMMANDS = Set.of("helo", "ehlo", "mail", "rcpt", "data", "rset", "noop", "quit",
            "vrfy", "expn", "help", "starttls", "auth", "unknown");

    private final MeterRegistry registry;
    private final Map<String, Timer> timers = new ConcurrentHashMap<>();

    public JamesMetricFactory(RelayMetrics metrics) {
        this(metrics.registry());
    }

    private JamesMetricFactory(MeterRegistry registry) {
        this.registry = registry;
    }

    /** Records nothing: a composite registry with no registries behind it drops every sample. */
    public static JamesMetricFactory noop() {
        return new JamesMetricFactory(new io.micrometer.core.instrument.composite.CompositeMeterRegistry());
    }

    @Override
    public Metric generate(String name) {
        return new Metric() {
            private final AtomicLong n = new AtomicLong();

            @Override
            public void increment() {
                n.incrementAndGet();
            }

            @Override
            public void decrement() {
                n.decrementAndGet();
            }

            @Override
            public void add(int value) {
                n.addAndGet(value);
            }

            @Override
            public void remove(int value) {
                n.addAndGet(-value);
            }

            @Override
            public long getCount() {
                return n.get();
            }
        };
    }

    @Override
    public TimeMetric timer(String name) {
        Timer timer = timers.computeIfAbsent(command(name), c -> Timer.builder("relaybox.intake.command")
                .description("Time James spent handling an SMTP command, hooks included")
                .tag("command", c).register(registry));
        long start = System.nanoTime();
        return new TimeMetric() {
            @Override
            public String name() {
                return name;
            }

            @Override
            public ExecutionResult stopAndPublish() {
                Duration d = Duration.ofNanos(System.nanoTime() - start);
                timer.record(d);
                return new ExecutionResult() {
                    @Override
                    public Duration elasped() {
                        return d;
                    }

                    @Override
                    public ExecutionResult logWhenExceedP99(Duration threshold) {
                        return this;
                    }
                };
            }
        };
    }

    /** James's reactive path is not used by protocols-smtp; pass the publisher through untimed. */
    @Override
    public <T> Publisher<T> decoratePublisherWithTimerMetric(String name, Publisher<T> publisher) {
        return publisher;
    }

    @Override
    public <T> Publisher<T> decoratePublisherWithTimerMetricLogP99(String name, Publisher<T> publisher) {
        return publisher;
    }

    static String command(String timerName) {
        String c = timerName.toLowerCase(Locale.ROOT);
        if (c.startsWith("smtp-")) {
            c = c.substring(5);
        }
        return COMMANDS.contains(c) ? c : "other";
    }
}
