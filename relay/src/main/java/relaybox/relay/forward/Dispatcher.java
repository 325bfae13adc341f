package relaybox.relay.forward;

import io.netty.util.concurrent.DefaultThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.log.MailEvents;
import relaybox.relay.metrics.LinkState;
import relaybox.relay.metrics.RelayMetrics;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Owns when mail is sent: it leases due entries from the queue, has {@link Routing} pick an
 * upstream for each (sender-domain route, then failover order, skipping upstreams whose circuit
 * is open) and hands them to that upstream's {@link UpstreamWorker}s; it owns the
 * circuits and the prober. It never speaks SMTP (sessions do), never decides what a reply means
 * ({@link FailurePolicy} does) and leaves recording to {@link OutcomeRecorder}.
 *
 * <p>Concurrency: each upstream has {@code min(max_connections, forward_concurrency)} workers,
 * each owning at most one session that it keeps across messages, NOOPs while idle and closes
 * after {@code forward_idle_timeout}. At most {@code forward_concurrency} messages are being
 * sent at once; up to {@link #AHEAD_PER_SESSION} times as many are leased (SENDING) and wait in
 * the upstreams' backlogs. An entry leased but not yet sent costs nothing at a crash: recovery
 * makes it QUEUED again, and shutdown gives it back.
 *
 * <p>Offline: when a session cannot be opened (connect, greeting, TLS, EHLO, AUTH), the upstream's
 * circuit opens with one log line and the message goes back to the queue untouched (no attempt
 * spent, no backoff). While every upstream is down nothing is leased. A prober opens a test
 * session to each down upstream every {@code forward_probe_interval}; when one succeeds the
 * circuit closes and {@link Queue#retryAll} makes the whole backlog due at once.
 *
 * <p>Failure behaviour: exceptions on worker threads are caught, logged with the queue id, and
 * the entry is given back to the queue; {@link #firstBug()} exposes the first one for tests.
 * {@link #close()} stops leasing, gives back entries not yet sent and QUITs sessions.
 *
 * <p>Known limits: an entry is only expired (failed after the queue lifetime) when an attempt is
 * made, so mail held back by a long total outage is delivered late rather than bounced. Mail routed
 * by {@code sender_domains} to upstreams that are all down, while others are up, spends attempts
 * (the dispatcher cannot park it) and comes back with {@code retryAll} when one recovers.
 *
 * <p>Thread safety: {@link #start} and {@link #close} may be called from any thread; close is
 * idempotent and returns once every worker has stopped.
 */
public final class Dispatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Dispatcher.class);
    private static final int MAX_BATCH = 32;
    /**
     * Entries leased ahead per session, so that a worker that finishes a message finds the next
     * one waiting in its upstream's backlog. With one lease per finished message the dispatcher
     * and a worker woke each other for every message: 8 futex calls per message in a drain.
     */
    static final int AHEAD_PER_SESSION = 8;

    final Queue queue;
    final ForwardConfig cfg;
    private final MailEvents log;
    final Clock clock;
    /** Where outcomes, sessions and link probes are counted; null when nobody collects metrics. */
    final RelayMetrics metrics;
    private final List<Upstream> upstreams;
    private final Routing routing;
    /** Guards {@link #leased}; the dispatcher waits on it for room to lease more. */
    private final Object leaseLock = new Object();
    /** Entries leased and not yet recorded or given back: at most {@link #leaseLimit}. */
    private int leased;
    private final int leaseLimit;
    /** How much room the dispatcher waits for before it leases again. */
    private final int refill;
    final OutcomeRecorder recorder;
    private final ScheduledExecutorService prober;
    private final List<Thread> threads = new ArrayList<>();
    private final Object circuitChange = new Object();
    private final AtomicReference<Throwable> firstBug = new AtomicReference<>();
    private volatile boolean running = true;

    private Dispatcher(Queue queue, ForwardConfig cfg, MailEvents log, Clock clock, RelayMetrics metrics,
                       MessageSigner signer, UpstreamSizes sizes) throws IOException {
        this.queue = queue;
        this.cfg = cfg;
        this.log = log;
        this.clock = clock;
        this.metrics = metrics;
        this.leaseLimit = cfg.concurrency() * AHEAD_PER_SESSION;
        this.refill = Math.max(1, Math.min(MAX_BATCH, leaseLimit / 2));
        List<Upstream> ups = new ArrayList<>();
        String host = cfg.heloName().isEmpty() ? SmtpConnector.localName() : cfg.heloName();
        for (UpstreamConfig u : cfg.upstreams()) {
            ups.add(new Upstream(u, Forwarder.of(u, cfg, sizes)));
        }
        this.upstreams = List.copyOf(ups);
        this.routing = new Routing(upstreams);
        this.recorder = new OutcomeRecorder(queue, log,
                new DsnWriter(queue, log, cfg.dsn(), cfg.dsnPerMinute(), host, clock, signer), clock);
        this.prober = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("forward-probe", true));
    }

    /**
     * Starts dispatching from {@code queue} with {@code cfg}. Reads every upstream's credentials
     * and CA file first, so a bad secrets file fails here, at start.
     *
     * @throws IOException when an auth_file or ca_file cannot be used
     */
    public static Dispatcher start(Queue queue, ForwardConfig cfg, MailEvents log) throws IOException {
        return start(queue, cfg, log, Clock.systemUTC());
    }

    public static Dispatcher start(Queue queue, ForwardConfig cfg, MailEvents log, Clock clock) throws IOException {
        return start(queue, cfg, log, clock, null);
    }

    /** As above, counting outcomes, sessions and link probes in {@code metrics}. */
    public static Dispatcher start(Queue queue, ForwardConfig cfg, MailEvents log, Clock clock, RelayMetrics metrics)
            throws IOException {
        return start(queue, cfg, log, clock, metrics, MessageSigner.NONE);
    }

    /** As above, DKIM-signing the DSNs it writes with {@code signer} (the intake's). */
    public static Dispatcher start(Queue queue, ForwardConfig cfg, MailEvents log, Clock clock, RelayMetrics metrics,
                                   MessageSigner signer) throws IOException {
        return start(queue, cfg, log, clock, metrics, signer, UpstreamSizes.NONE);
    }

    /** As above, recording the SIZE each upstream advertises in {@code sizes} (for the intake). */
    public static Dispatcher start(Queue queue, ForwardConfig cfg, MailEvents log, Clock clock, RelayMetrics metrics,
                                   MessageSigner signer, UpstreamSizes sizes) throws IOException {
        Dispatcher d = new Dispatcher(queue, cfg, log, clock, metrics, signer, sizes);
        d.run();
        return d;
    }

    private void run() {
        // Every circuit starts closed: each link has its series and a health verdict from the start.
        upstreams.forEach(u -> link(u, LinkState.UP));
        for (Upstream u : upstreams) {
            for (int i = 0; i < u.workers(cfg.concurrency()); i++) {
                threads.add(thread("forward-" + u.name() + "-" + i, new UpstreamWorker(this, u)));
            }
        }
        threads.add(thread("forward-dispatch", this::dispatch));
        // Ticks more often than the probe interval: each upstream's own next probe time decides
        // ({@link ProbeSchedule}); a tick with nothing due costs nothing.
        long tick = Math.max(10, Math.min(1000, cfg.probeInterval().toMillis() / 5));
        prober.scheduleWithFixedDelay(this::probe, tick, tick, TimeUnit.MILLISECONDS);
    }

    private static Thread thread(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** The first unexpected exception a worker caught, or null: tests assert it stays null. */
    public Throwable firstBug() {
        return firstBug.get();
    }

    /** True when the named upstream's circuit is closed (it is taking mail). */
    public boolean isUp(String upstream) {
        return upstreams.stream().filter(u -> u.name().equals(upstream)).anyMatch(Upstream::isUp);
    }

    // ---- the dispatcher thread: lease and hand over ----

    private void dispatch() {
        while (running) {
            try {
                if (!routing.anyUp()) {
                    // Everything is down: leave mail queued, untouched, until a probe succeeds.
                    synchronized (circuitChange) {
                        circuitChange.wait(cfg.probeInterval().toMillis());
                    }
                    continue;
                }
                int n = room();
                if (n == 0) {
                    continue;
                }
                List<QueueEntry> got = running ? queue.leaseDue(clock.instant(), n) : List.of();
                release(n - got.size());
                if (got.isEmpty()) {
                    queue.awaitDue(Duration.ofMillis(500));
                    continue;
                }
                for (QueueEntry e : got) {
                    hand(e);
                }
            } catch (InterruptedException e) {
                return;
            } catch (RuntimeException e) {
                bug("dispatch", e);
            }
        }
    }

    private void hand(QueueEntry e) {
        Upstream to = routing.pick(e);
        if (to != null) {
            to.submit(e);
            return;
        }
        if (!routing.anyUp()) {
            // Everything went down after the lease: give it back untouched; the dispatcher now
            // waits for a probe instead of leasing.
            giveBack(e);
            released();
            return;
        }
        // Its routed upstreams are down while others are up: this entry cannot move now. Spend
        // an attempt (the prober's retryAll brings it back as soon as one is up again), because
        // giving it back would have the dispatcher lease it again at once, in a loop.
        Upstream first = routing.route(e).get(0);
        String reason = "connect: upstream " + first.name() + " is down: " + first.downReason();
        Map<String, Outcome> outcomes = new HashMap<>();
        Outcome down = FailurePolicy.localFailure(Stage.CONNECT, reason);
        for (String r : e.pendingRecipients()) {
            outcomes.put(r, down);
        }
        Attempt a = new Attempt(outcomes, first.config.host() + ":" + first.config.port());
        count(first, e, a, recorder.record(e, a, "-"));
        released();
    }

    boolean running() {
        return running;
    }

    /** A worker finished with an entry (recorded or given back): one more may be leased. */
    void released() {
        release(1);
    }

    private void release(int n) {
        if (n == 0) {
            return;
        }
        synchronized (leaseLock) {
            leased -= n;
            // Wake the dispatcher once there is room for a batch, not for every message.
            if (leaseLimit - leased >= refill) {
                leaseLock.notify();
            }
        }
    }

    /**
     * Waits up to 250 ms until a batch may be leased (at least {@link #refill} free, or
     * everything when less is in flight) and reserves it: how many, up to {@code MAX_BATCH}.
     * Returns 0 on timeout with some room left unreserved, so that the loop checks its state.
     */
    private int room() throws InterruptedException {
        synchronized (leaseLock) {
            long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(250);
            while (leaseLimit - leased < refill) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                leaseLock.wait(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left)));
            }
            int n = Math.min(MAX_BATCH, leaseLimit - leased);
            leased += n;
            return n;
        }
    }

    void giveBack(QueueEntry e) {
        try {
            queue.returnLease(e.id());
        } catch (IllegalStateException x) {
            LOG.warn("{}: could not give the lease back: {}", e.id(), x.getMessage());
        }
    }

    /** One count per message attempt, by the state the attempt left the entry in. */
    void count(Upstream u, QueueEntry before, Attempt a, Optional<QueueEntry> after) {
        if (metrics == null || after.isEmpty()) {
            return;
        }
        QueueEntry n = after.get();
        switch (n.state()) {
            case DELIVERED -> {
                metrics.delivered(u.name(), before.messageSize());
                metrics.endToEndLatency(Duration.between(before.queuedAt(), clock.instant()));
            }
            case DEFERRED -> metrics.deferred(u.name(), replyClass(before, a));
            case FAILED -> metrics.failed(u.name(), replyClass(before, a));
            default -> {
                // Other states do not follow an attempt.
            }
        }
    }

    /** The class of the reply the entry records last, as its outcome carries it (io when none came). */
    private static String replyClass(QueueEntry before, Attempt a) {
        return a.last(before.pendingRecipients()).map(o -> o.cause().label()).orElse(Outcome.Cause.IO.label());
    }

    /** A new session to {@code u}, counted when metrics are collected. */
    UpstreamSession open(Upstream u) throws SessionOpenException {
        return open(u, Login.DEFAULT);
    }

    /** A new session to {@code u} authenticated as {@code login}, counted when metrics are collected. */
    UpstreamSession open(Upstream u, Login login) throws SessionOpenException {
        UpstreamSession s = u.open(login);
        return metrics == null ? s : new MeteredSession(s, u.name(), metrics);
    }

    private void link(Upstream u, LinkState state) {
        link(u, state, "");
    }

    private void link(Upstream u, LinkState state, String reason) {
        if (metrics != null) {
            metrics.linkState(u.name(), state, reason);
        }
    }

    /**
     * A session or a probe could not be opened: the circuit opens (logged once), the next probe
     * is scheduled ({@link ProbeSchedule}: a configuration-class failure backs off), and a new
     * reason is logged once, never once per probe.
     */
    void down(Upstream u, SessionOpenException x) {
        FailurePolicy.Decision d = x.decision();
        String reason = d.outcome().reply();
        Upstream.Failure f = u.failed(reason, d.configError(), clock.instant(), cfg.probeInterval(), u.secretsStamp());
        if (f.wentDown()) {
            log.upstreamDown(u.name(), x.upstream(), reason);
        }
        link(u, d.configError() ? LinkState.BACKOFF : LinkState.DOWN, reason);
        if (d.configError() && f.reasonChanged()) {
            FailurePolicy.logConfigError(u.name(), d.outcome());
        } else if (f.reasonChanged() && !f.wentDown()) {
            LOG.warn("upstream {} still down, now: {}", u.name(), reason);
        }
    }

    /** The forwarder of the upstream named {@code name}, or null. */
    public Forwarder forwarder(String name) {
        return upstreams.stream().filter(u -> u.name().equals(name)).map(Upstream::forwarder).findFirst().orElse(null);
    }

    /** Each upstream's link now, in configuration order. */
    public List<LinkView> links() {
        return upstreams.stream().map(Upstream::view).toList();
    }

    // ---- the prober: notice recovery, then drain at full speed ----

    /**
     * An operator acted ({@code relaybox upstream test}, {@code queue retry}): every backoff is
     * cleared and every down upstream is probed now, on the prober's thread, not at its next
     * probe time.
     */
    public void probeNow() {
        java.time.Instant now = clock.instant();
        for (Upstream u : upstreams) {
            if (u.clearBackoff(now)) {
                LOG.info("upstream {}: backoff cleared by an operator, probing now", u.name());
            }
        }
        try {
            prober.execute(this::probe);
        } catch (java.util.concurrent.RejectedExecutionException stopping) {
            // Shutting down: nothing to probe for.
        }
    }

    /**
     * One pass of the prober over the down upstreams whose probe is due. The prober thread runs
     * it; tests with a fake clock call it directly.
     */
    public synchronized void probe() {
        for (Upstream u : upstreams) {
            if (u.isUp() || !running) {
                continue;
            }
            java.time.Instant now = clock.instant();
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
                link(u, LinkState.UP);
                if (u.markUp(clock.instant())) {
                    int due = queue.retryAll(clock.instant());
                    log.upstreamUp(u.name(), s.upstream(), due);
                    synchronized (circuitChange) {
                        circuitChange.notifyAll();
                    }
                }
            } catch (SessionOpenException x) {
                LOG.debug("probe of {} failed: {}", u.name(), x.getMessage());
                if (running) {
                    // At shutdown the probe is interrupted: that is no news about the upstream.
                    down(u, x);
                }
            } catch (RuntimeException x) {
                link(u, LinkState.DOWN);
                bug("probe " + u.name(), x);
            }
        }
    }

    void bug(String where, Throwable t) {
        firstBug.compareAndSet(null, t);
        LOG.error("{}: unexpected failure in the dispatcher", where, t);
    }

    /**
     * Stops leasing, waits up to {@code forward_command_timeout} for messages in flight, gives
     * back every entry not yet sent ({@link Queue#returnLease}) and QUITs every session.
     */
    @Override
    public void close() {
        if (!running) {
            return;
        }
        running = false;
        prober.shutdownNow();
        synchronized (circuitChange) {
            circuitChange.notifyAll();
        }
        long deadline = System.nanoTime() + cfg.commandTimeout().toNanos();
        for (Thread t : threads) {
            try {
                long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
                t.join(Math.max(1, left));
                if (t.isAlive()) {
                    t.interrupt();
                    t.join(1000);
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                break;
            }
        }
        for (Upstream u : upstreams) {
            u.drainBacklog().forEach(this::giveBack);
        }
    }
}
