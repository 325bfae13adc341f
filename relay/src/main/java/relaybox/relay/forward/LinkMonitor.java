package relaybox.relay.forward;

import io.netty.util.concurrent.DefaultThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Queue;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.log.MailEvents;
import relaybox.relay.metrics.LinkState;
import relaybox.relay.metrics.RelayMetrics;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BiConsumer;

/**
 * Owns the state of every upstream link and its changes: down (a session could not be opened),
 * probing, up again; paused and resumed (by an operator, by a used-up quota, by sender
 * throttling, or by a pause's expiry); slowed down after throttling. It reports each change once:
 * to the mail log, to the metrics' link state, and for pauses to the pause file
 * ({@link PauseFile}) so that they survive a restart. The dispatcher asks it only whether an
 * upstream takes mail (through {@link Routing}) and waits on it for a change; workers report what
 * they met. It never sends mail and never classifies a reply ({@link FailurePolicy} did).
 *
 * <p>Recovery: a prober thread ticks more often than {@code forward_probe_interval}; each tick
 * ends expired pauses and probes the down upstreams whose probe is due ({@link ProbeSchedule}).
 * When an upstream comes back, or is resumed, {@link Queue#retryAll} makes the backlog due at
 * once. A paused upstream is not probed.
 *
 * <p>Thread safety: every method may be called from any thread; state changes of one upstream
 * are serialised on this monitor.
 */
final class LinkMonitor implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LinkMonitor.class);
    /**
     * How long a quota reply or sender throttling pauses an upstream. The providers count quotas
     * over a rolling 24 hours and do not say when room comes back: an hour bounds the delay once
     * room is back, and costs at most 24 refused attempts a day while it is not.
     */
    static final Duration REPLY_PAUSE = Duration.ofHours(1);

    private final Queue queue;
    private final ForwardConfig cfg;
    private final List<Upstream> upstreams;
    private final MailEvents log;
    private final Clock clock;
    private final RelayMetrics metrics;
    private final PauseFile pauseFile;
    private final BiConsumer<String, Throwable> bug;
    private final ScheduledExecutorService prober;
    /** Notified when an upstream starts taking mail again; the dispatcher waits on it. */
    private final Object change = new Object();
    /** Serialises pauses and resumes (and the pause file), apart from the slow probes. */
    private final Object pauseLock = new Object();
    private volatile boolean running = true;

    LinkMonitor(Queue queue, ForwardConfig cfg, List<Upstream> upstreams, MailEvents log, Clock clock,
                RelayMetrics metrics, PauseFile pauseFile, BiConsumer<String, Throwable> bug) {
        this.queue = queue;
        this.cfg = cfg;
        this.upstreams = List.copyOf(upstreams);
        this.log = log;
        this.clock = clock;
        this.metrics = metrics;
        this.pauseFile = pauseFile;
        this.bug = bug;
        this.prober = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("forward-probe", true));
    }

    /** Publishes every link (up, or paused as the pause file says) and starts the prober. */
    void start() {
        Map<String, Pause> kept = pauseFile.load();
        for (Upstream u : upstreams) {
            Pause p = kept.remove(u.name());
            if (p != null) {
                u.pause(p);
                LOG.info("upstream {} is paused ({}), as it was before the restart", u.name(), p.describe());
            }
            publish(u);
        }
        kept.keySet().forEach(n -> LOG.warn("upstream {} was paused, but is no longer configured: pause dropped", n));
        // Each upstream's own next probe time decides ({@link ProbeSchedule}); a tick with nothing
        // due costs nothing.
        long tick = Math.max(10, Math.min(1000, cfg.probeInterval().toMillis() / 5));
        prober.scheduleWithFixedDelay(this::tick, tick, tick, TimeUnit.MILLISECONDS);
    }

    /** Waits up to {@code millis} for an upstream to start taking mail again. */
    void awaitChange(long millis) throws InterruptedException {
        synchronized (change) {
            change.wait(millis);
        }
    }

    private void changed() {
        synchronized (change) {
            change.notifyAll();
        }
    }

    // ---- what workers report ----

    /**
     * A session could not be opened. A throttling reply slows the upstream down and a quota or
     * sender-throttling reply pauses it; anything else opens the circuit (logged once), schedules
     * the next probe ({@link ProbeSchedule}: a configuration-class failure backs off), and a new
     * reason is logged once, never once per probe.
     */
    void cannotOpen(Upstream u, SessionOpenException x) {
        FailurePolicy.Decision d = x.decision();
        if (d.effect() != FailurePolicy.Effect.NONE) {
            signal(u, d);
            return;
        }
        String reason = d.explained();
        Upstream.Failure f = u.failed(reason, d.configError(), clock.instant(), cfg.probeInterval(), u.secretsStamp());
        if (f.wentDown()) {
            log.upstreamDown(u.name(), x.upstream(), reason);
        }
        publish(u);
        if (d.configError() && f.reasonChanged()) {
            FailurePolicy.logConfigError(u.name(), d);
        } else if (f.reasonChanged() && !f.wentDown()) {
            LOG.warn("upstream {} still down, now: {}", u.name(), reason);
        }
    }

    /** A reply asked something of the upstream as a whole: slow it down, or pause it. */
    void signal(Upstream u, FailurePolicy.Decision d) {
        Instant now = clock.instant();
        switch (d.effect()) {
            case SLOW_DOWN -> {
                int before = u.throttle.cap(now);
                Duration cool = u.throttle.throttled(now);
                u.rate.pause(cool.toMillis());
                int after = u.throttle.cap(now);
                if (after < before) {
                    LOG.warn("upstream {} is throttling us: {}; at most {} session(s) now, nothing sent for {}s, "
                            + "one more session each quiet minute", u.name(), d.outcome().reply(), after,
                            cool.toSeconds());
                }
            }
            case PAUSE_QUOTA -> pauseByReply(u, new Pause(Pause.Cause.QUOTA, now, now.plus(REPLY_PAUSE),
                    d.outcome().reply()));
            case PAUSE_ALERT -> {
                if (pauseByReply(u, new Pause(Pause.Cause.THROTTLED, now, now.plus(REPLY_PAUSE), d.outcome().reply()))) {
                    LOG.error("upstream {}: the provider blocks this sender after continuous errors, and every retry "
                            + "extends the block: paused until {}; find the failing messages (relaybox queue list "
                            + "--state failed), fix the cause, then relaybox upstream resume {}: {}", u.name(),
                            now.plus(REPLY_PAUSE), u.name(), d.outcome().reply());
                }
            }
            case NONE -> {
                // Nothing asked of the upstream.
            }
        }
    }

    /** Pauses {@code u} for a reply unless a pause is already in force; true if this one took effect. */
    private boolean pauseByReply(Upstream u, Pause p) {
        synchronized (pauseLock) {
            if (u.pause() != null) {
                // Sessions that were under way when the pause began meet the same reply: the
                // pause in force stands, and is logged once.
                return false;
            }
            apply(u, p);
            return true;
        }
    }

    // ---- what an operator asks ----

    /**
     * Pauses the upstream named {@code name} for {@code length} (null: until resumed), replacing any
     * other pause. Empty when there is no such upstream.
     */
    Optional<LinkView> pause(String name, Duration length, String by) {
        Upstream u = find(name);
        if (u == null) {
            return Optional.empty();
        }
        synchronized (pauseLock) {
            Instant now = clock.instant();
            apply(u, new Pause(Pause.Cause.OPERATOR, now, length == null ? null : now.plus(length), "paused by " + by));
        }
        return Optional.of(u.view());
    }

    /** Ends the pause of the upstream named {@code name}, if any. Empty when there is no such upstream. */
    Optional<LinkView> resume(String name, String by) {
        Upstream u = find(name);
        if (u == null) {
            return Optional.empty();
        }
        synchronized (pauseLock) {
            if (u.pause() != null) {
                u.clearBackoff(clock.instant());
                end(u, "operator");
            }
        }
        return Optional.of(u.view());
    }

    private void apply(Upstream u, Pause p) {
        u.pause(p);
        save();
        log.upstreamPaused(u.name(), p.cause().word(), p.until() == null ? "-" : p.until().toString(), p.reason());
        publish(u);
    }

    private void end(Upstream u, String by) {
        u.pause(null);
        save();
        int due = u.takesMail() ? queue.retryAll(clock.instant()) : 0;
        log.upstreamResumed(u.name(), by, due);
        publish(u);
        changed();
    }

    private void save() {
        Map<String, Pause> all = new TreeMap<>();
        for (Upstream u : upstreams) {
            Pause p = u.pause();
            if (p != null) {
                all.put(u.name(), p);
            }
        }
        try {
            pauseFile.save(all);
        } catch (IOException e) {
            LOG.warn("cannot write the upstream pauses: {}; they hold until the daemon stops", e.toString());
        }
    }

    // ---- the prober: notice recovery, then drain at full speed ----

    /**
     * An operator acted ({@code relaybox upstream test}, {@code queue retry}): every backoff is
     * cleared and every down upstream is probed now, on the prober's thread.
     */
    void probeNow() {
        Instant now = clock.instant();
        for (Upstream u : upstreams) {
            if (u.clearBackoff(now)) {
                LOG.info("upstream {}: backoff cleared by an operator, probing now", u.name());
            }
        }
        try {
            prober.execute(this::tick);
        } catch (RejectedExecutionException stopping) {
            // Shutting down: nothing to probe for.
        }
    }

    /** One tick: ends expired pauses, then probes the down upstreams whose probe is due. */
    void tick() {
        synchronized (pauseLock) {
            for (Upstream u : upstreams) {
                Pause p = u.pause();
                if (p != null && p.expired(clock.instant()) && running) {
                    end(u, "expiry");
                }
            }
        }
        probe();
    }

    /** Probes the down upstreams whose probe is due; tests with a fake clock call it directly. */
    synchronized void probe() {
        for (Upstream u : upstreams) {
            if (u.isUp() || u.pause() != null || !running) {
                continue;
            }
            Instant now = clock.instant();
            if (u.secretsChanged(u.secretsStamp())) {
                // The operator fixed the secrets file: no need to wait out the backoff.
                LOG.info("upstream {}: auth_file changed, probing now", u.name());
                u.clearBackoff(now);
            }
            if (!u.probeDue(now)) {
                continue;
            }
            link(u, LinkState.PROBING);
            try (UpstreamSession s = u.open()) {
                if (u.markUp(clock.instant())) {
                    int due = queue.retryAll(clock.instant());
                    log.upstreamUp(u.name(), s.upstream(), due);
                    changed();
                }
                publish(u);
            } catch (SessionOpenException x) {
                LOG.debug("probe of {} failed: {}", u.name(), x.getMessage());
                if (running) {
                    // At shutdown the probe is interrupted: that is no news about the upstream.
                    cannotOpen(u, x);
                }
            } catch (RuntimeException x) {
                link(u, LinkState.DOWN);
                bug.accept("probe " + u.name(), x);
            }
        }
    }

    /** The link state of {@code u} now, to the metrics; a pause shows whatever the circuit is. */
    private void publish(Upstream u) {
        LinkView v = u.view();
        link(u, v.pause() != null ? LinkState.PAUSED : v.up() ? LinkState.UP
                : v.backingOff() ? LinkState.BACKOFF : LinkState.DOWN);
        if (metrics != null) {
            metrics.upstreamPaused(u.name(), v.pause() == null ? null : v.pause().describe());
        }
    }

    /** With why the link is not up (the upstream's or the token endpoint's words), for /healthz. */
    private void link(Upstream u, LinkState state) {
        if (metrics != null) {
            metrics.linkState(u.name(), state, state == LinkState.UP ? "" : u.downReason());
        }
    }

    private Upstream find(String name) {
        return upstreams.stream().filter(u -> u.name().equals(name)).findFirst().orElse(null);
    }

    /** Stops the prober and wakes whoever waits for a change. */
    @Override
    public void close() {
        running = false;
        prober.shutdownNow();
        changed();
    }
}
