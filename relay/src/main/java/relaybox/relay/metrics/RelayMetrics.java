package relaybox.relay.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.DistributionSummary;
import io.micrometer.core.instrument.Gauge;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Timer;
import io.micrometer.core.instrument.binder.jvm.JvmGcMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmMemoryMetrics;
import io.micrometer.core.instrument.binder.jvm.JvmThreadMetrics;
import io.micrometer.core.instrument.binder.system.FileDescriptorMetrics;
import io.micrometer.core.instrument.binder.system.ProcessorMetrics;
import io.micrometer.core.instrument.binder.system.UptimeMetrics;
import io.micrometer.prometheusmetrics.PrometheusConfig;
import io.micrometer.prometheusmetrics.PrometheusMeterRegistry;
import relaybox.queue.EntryState;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Supplier;

/**
 * Owns every metric relaybox exports: the only door to them. Stages call one method per event,
 * in the project's words; the registry (Micrometer with its Prometheus registry) and the metric
 * names stay in this package. The counters and timers of events are named here; the upstream
 * links' state and pauses ({@link LinkGauges}) and the gauges sampled per scrape
 * ({@link QueueGauges}) are named by the helpers that keep them, because they hold state rather
 * than count. Does not serve HTTP ({@link MetricsServer}) and does not judge health ({@link Health}).
 *
 * <h2>Who calls what</h2>
 * <ul>
 *   <li>intake, through its mail events ({@link MailMetrics}): {@link #accepted} after
 *       {@code Queue.accept} returned, {@link #refused} for every refused MAIL/RCPT/DATA; and
 *       {@link #intakeLatency} (end of DATA to the 250) directly;</li>
 *   <li>DKIM signer (at intake): {@link #dkimSigned}, {@link #dkimFailed};</li>
 *   <li>dispatcher/forwarder: once per attempt on a message, by the entry's resulting state,
 *       exactly one of {@link #delivered} (with {@link #endToEndLatency}), {@link #deferred},
 *       {@link #failed}; {@link #connectionOpened}/{@link #connectionClosed} per upstream session;
 *       {@link #linkState} on every link state change, {@link #upstreamPaused} on every pause and
 *       resume;</li>
 *   <li>daemon: {@link #bindQueue} and {@link #bindStore} once at start.</li>
 * </ul>
 *
 * <h2>Label values</h2>
 * Refusal reasons and reply classes are small fixed sets ({@link #REFUSAL_REASONS},
 * {@link #REPLY_CLASSES}); anything else is counted as {@code other} and warned about once, because
 * a free-text label (an SMTP reply, an exception message) would create a time series per value.
 * Upstream names and DKIM domains come from the configuration and are therefore bounded.
 *
 * <h2>Thread safety</h2>
 * All methods may be called from any thread; event methods never block and never throw.
 */
public final class RelayMetrics implements AutoCloseable {

    /** Why the intake refused a message or a command: the {@code reason} label ({@code Refusal}'s labels). */
    public static final Set<String> REFUSAL_REASONS = Set.of(
            "relay_denied", "size", "storage_full", "storage_error", "bad_input", "auth", "signing", "other");

    /** How an upstream attempt went wrong: the {@code reply_class} label. */
    public static final Set<String> REPLY_CLASSES = Set.of("4xx", "5xx", "timeout", "tls", "io", "auth", "other");

    /** Why DKIM signing refused a message: the {@code reason} label of the failures. */
    public static final Set<String> DKIM_FAILURE_REASONS = Set.of("no_key", "bad_message", "error", "other");

    private final PrometheusMeterRegistry registry;
    private final Labels labels;
    private final JvmGcMetrics gc = new JvmGcMetrics();
    private final Counter accepted;
    private final Counter bytesIn;
    private final Timer intakeLatency;
    private final Timer endToEnd;
    private final Map<String, AtomicInteger> open = new ConcurrentHashMap<>();
    private final Map<String, DistributionSummary> perConnection = new ConcurrentHashMap<>();
    private final LinkGauges links;
    private final QueueGauges sampled;

    public RelayMetrics() {
        registry = new PrometheusMeterRegistry(PrometheusConfig.DEFAULT);
        labels = new Labels(registry);
        links = new LinkGauges(registry);
        sampled = new QueueGauges(registry);
        accepted = Counter.builder("relaybox.messages.accepted")
                .description("Messages accepted by the intake (durable, answered 250)").register(registry);
        bytesIn = Counter.builder("relaybox.intake").baseUnit("bytes")
                .description("Message bytes accepted by the intake").register(registry);
        intakeLatency = Timer.builder("relaybox.intake.latency")
                .description("From the end of DATA to the 250: spool fsync, DKIM and queue commit")
                .serviceLevelObjectives(ms(1), ms(2), ms(5), ms(10), ms(25), ms(50), ms(100), ms(250), ms(500),
                        ms(1000), ms(2500), ms(5000), ms(10000))
                .register(registry);
        endToEnd = Timer.builder("relaybox.delivery.latency")
                .description("From the intake's 250 to the upstream's 250 for the message")
                .serviceLevelObjectives(ms(100), ms(250), ms(500), ms(1000), ms(2500), ms(5000), ms(10000),
                        Duration.ofSeconds(30), Duration.ofMinutes(1), Duration.ofMinutes(5), Duration.ofMinutes(15),
                        Duration.ofHours(1), Duration.ofHours(4), Duration.ofHours(12), Duration.ofDays(1),
                        Duration.ofDays(5))
                .register(registry);
        new JvmMemoryMetrics().bindTo(registry);
        gc.bindTo(registry);
        new JvmThreadMetrics().bindTo(registry);
        new ProcessorMetrics().bindTo(registry);
        new UptimeMetrics().bindTo(registry);
        new FileDescriptorMetrics().bindTo(registry);
    }

    // ---- intake ----------------------------------------------------------------------------

    /** A message was made durable and answered 250. */
    public void accepted(long bytes) {
        accepted.increment();
        bytesIn.increment(bytes);
    }

    /** A message or command was refused; {@code reason} is one of {@link #REFUSAL_REASONS}. */
    public void refused(String reason) {
        String r = bounded("reason", reason, REFUSAL_REASONS);
        counter("relaybox.messages.refused", "Messages or commands refused by the intake, by reason",
                "reason", r).increment();
    }

    /** Why AUTH was refused without a password check: the {@code limit} label. */
    public static final Set<String> AUTH_LIMITS = Set.of("address", "network", "global", "busy");

    /** A password was checked (one PBKDF2 run at most; a remembered good login costs none). */
    public void authChecked() {
        counter("relaybox.intake.auth.checks", "Passwords checked for AUTH").increment();
    }

    /** AUTH was refused without checking the password; {@code limit} is one of {@link #AUTH_LIMITS}. */
    public void authRefused(String limit) {
        counter("relaybox.intake.auth.refused", "AUTH attempts refused by a guessing limit, unchecked, by limit",
                "limit", bounded("limit", limit, AUTH_LIMITS)).increment();
    }

    /** End of DATA to the 250 being written. */
    public void intakeLatency(Duration d) {
        intakeLatency.record(d);
    }

    // ---- DKIM ------------------------------------------------------------------------------

    public void dkimSigned(String domain) {
        counter("relaybox.dkim.signed", "DKIM signatures made, by signing domain", "domain", domain).increment();
    }

    /** Signing failed and the message was refused; {@code reason} is one of {@link #DKIM_FAILURE_REASONS}. */
    public void dkimFailed(String reason) {
        counter("relaybox.dkim.failures", "DKIM signing failures (message refused), by reason",
                "reason", bounded("reason", reason, DKIM_FAILURE_REASONS)).increment();
    }

    // ---- forwarder -------------------------------------------------------------------------

    /** The upstream took the message (250 after DATA) and no recipient is left pending. */
    public void delivered(String upstream, long bytes) {
        counter("relaybox.messages.delivered", "Messages delivered to an upstream", "upstream", upstream).increment();
        byteCounter("relaybox.forward", "Message bytes delivered to an upstream", "upstream", upstream)
                .increment(bytes);
    }

    /** The attempt left a recipient pending; {@code replyClass} is one of {@link #REPLY_CLASSES}. */
    public void deferred(String upstream, String replyClass) {
        counter("relaybox.messages.deferred", "Delivery attempts that left the message deferred",
                "upstream", upstream, "reply_class", bounded("reply_class", replyClass, REPLY_CLASSES)).increment();
    }

    /** The attempt left the message failed (permanent reply or lifetime over). */
    public void failed(String upstream, String replyClass) {
        counter("relaybox.messages.failed", "Messages that failed permanently",
                "upstream", upstream, "reply_class", bounded("reply_class", replyClass, REPLY_CLASSES)).increment();
    }

    /** From the intake's 250 to the upstream's 250; call with {@link #delivered}. */
    public void endToEndLatency(Duration d) {
        endToEnd.record(d);
    }

    public void connectionOpened(String upstream) {
        counter("relaybox.upstream.connections.opened", "Upstream sessions opened", "upstream", upstream).increment();
        openGauge(upstream).incrementAndGet();
    }

    /** A session ended after carrying {@code messagesCarried} messages (0 for a failed connect). */
    public void connectionClosed(String upstream, int messagesCarried) {
        openGauge(upstream).updateAndGet(n -> Math.max(0, n - 1));
        perConnection.computeIfAbsent(upstream, u -> DistributionSummary.builder("relaybox.upstream.messages.per.connection")
                .description("Messages carried by one upstream session before it closed")
                .tag("upstream", u)
                .serviceLevelObjectives(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 5000)
                .register(registry)).record(messagesCarried);
    }

    /** The link to {@code upstream} changed state. Also call it once per upstream at start (UP). */
    public void linkState(String upstream, LinkState state) {
        links.linkState(upstream, state);
    }

    /**
     * {@code upstream} was paused ({@code detail} says by what and until when, for {@code /healthz}),
     * or resumed ({@code detail} null): the gauge {@code relaybox_upstream_paused{upstream}} is 1
     * while a pause is in force, else 0.
     */
    public void upstreamPaused(String upstream, String detail) {
        links.upstreamPaused(upstream, detail);
    }

    /** What each paused upstream is paused by and until when, by name; for {@link HealthSource}. */
    public Map<String, String> pauseDetails() {
        return links.pauseDetails();
    }

    /** The last reported state of each upstream link, sorted by name; for {@link HealthSource}. */
    public Map<String, LinkState> linkStates() {
        return links.linkStates();
    }

    /**
     * The link to {@code upstream} changed state, for {@code reason} (the connection error or the
     * upstream's or token endpoint's own words, e.g. {@code AADSTS700082}). The reason is kept for
     * /healthz only, never as a label: a label's values must be few and fixed, and this is text.
     * UP forgets it; PROBING keeps the last one (the link is not up yet).
     */
    public void linkState(String upstream, LinkState state, String reason) {
        links.linkState(upstream, state, reason);
    }

    /** Why each link that is not up is so, by upstream name; for {@link HealthSource}. */
    public Map<String, String> linkReasons() {
        return links.linkReasons();
    }

    // ---- sampled at scrape time ------------------------------------------------------------

    /**
     * Queue depth and the age of the oldest waiting message, read once per scrape. {@code counts}
     * is {@link Queue#counts()}; {@code oldestWaiting} gives the accept time of the oldest message
     * still waiting for the upstream (QUEUED, SENDING, DEFERRED), or empty.
     */
    public void bindQueue(Supplier<Map<EntryState, Long>> counts, Supplier<Optional<Instant>> oldestWaiting,
                          Clock clock) {
        sampled.bindQueue(counts, oldestWaiting, clock);
    }

    /**
     * The same from a {@link Queue} directly: the counts the queue keeps, and the oldest waiting
     * entry from its state index, so a scrape costs the same at a million entries as at ten; and
     * the progress of its cross-check after an unclean stop ({@link Queue#crossCheckProgress()}).
     */
    public void bindQueue(Queue queue, Clock clock) {
        bindQueue(queue::counts, () -> queue.oldest(QueueGauges.WAITING).map(QueueEntry::queuedAt), clock);
        sampled.bindCrossCheck(queue::crossCheckProgress);
    }

    /** Store size (every file under {@code queueDir}) and free space of its filesystem, per scrape. */
    public void bindStore(Path queueDir, long minFreeSpace) {
        sampled.bindStore(queueDir, minFreeSpace);
    }

    /** Samples the bound suppliers once, then writes the exposition in {@code contentType}. */
    public void scrape(OutputStream out, String contentType) throws IOException {
        sampled.refresh();
        registry.scrape(out, contentType);
    }

    public String scrape() {
        sampled.refresh();
        return registry.scrape();
    }

    /** For binders and tests; stages use the event methods. */
    public MeterRegistry registry() {
        return registry;
    }

    @Override
    public void close() {
        gc.close();
        registry.close();
    }

    private AtomicInteger openGauge(String upstream) {
        return open.computeIfAbsent(upstream, u -> {
            AtomicInteger n = new AtomicInteger();
            Gauge.builder("relaybox.upstream.connections.open", n, AtomicInteger::get)
                    .description("Upstream sessions open now").tag("upstream", u).register(registry);
            return n;
        });
    }

    private Counter counter(String name, String description, String... tags) {
        return labels.counter(name, null, description, tags);
    }

    private Counter byteCounter(String name, String description, String... tags) {
        return labels.counter(name, "bytes", description, tags);
    }

    private String bounded(String label, String value, Set<String> allowed) {
        return labels.bounded(label, value, allowed);
    }

    private static Duration ms(long n) {
        return Duration.ofMillis(n);
    }
}
