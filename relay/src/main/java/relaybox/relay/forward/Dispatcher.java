package relaybox.relay.forward;

import io.netty.channel.EventLoopGroup;
import io.netty.channel.nio.NioEventLoopGroup;
import io.netty.util.concurrent.DefaultThreadFactory;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.RecipientState;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;
import relaybox.relay.log.MailLog;

import java.io.IOException;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Owns when mail is sent and through which upstream: it leases due entries from the queue,
 * picks an upstream for each (sender-domain route, then failover order, skipping upstreams whose
 * circuit is open), hands them to that upstream's workers, and records each outcome with
 * {@link Queue#recordOutcome}, logging one line per recipient and queueing DSNs. It never speaks
 * SMTP (sessions do) and never decides what a reply means ({@link FailurePolicy} does).
 *
 * <p>Concurrency: at most {@code forward_concurrency} entries are leased at once; each upstream
 * has {@code min(max_connections, forward_concurrency)} workers, each owning at most one session
 * that it keeps across messages, NOOPs while idle and closes after {@code forward_idle_timeout}.
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
 */
public final class Dispatcher implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(Dispatcher.class);
    private static final int MAX_BATCH = 32;

    private final Queue queue;
    private final ForwardConfig cfg;
    private final MailLog log;
    private final Clock clock;
    private final List<Upstream> upstreams;
    private final Semaphore inflight;
    private final DsnWriter dsn;
    private final EventLoopGroup group;
    private final ScheduledExecutorService prober;
    private final List<Thread> threads = new ArrayList<>();
    private final Object circuitChange = new Object();
    private final AtomicReference<Throwable> firstBug = new AtomicReference<>();
    private volatile boolean running = true;

    private Dispatcher(Queue queue, ForwardConfig cfg, MailLog log, Clock clock) throws IOException {
        this.queue = queue;
        this.cfg = cfg;
        this.log = log;
        this.clock = clock;
        this.inflight = new Semaphore(cfg.concurrency());
        this.group = new NioEventLoopGroup(Math.min(2, cfg.concurrency()), new DefaultThreadFactory("forward-io", true));
        List<Upstream> ups = new ArrayList<>();
        String host = "localhost";
        try {
            for (UpstreamConfig u : cfg.upstreams()) {
                if (u.isOutbox()) {
                    ups.add(new Upstream(u, () -> outbox(u)));
                } else {
                    SmtpConnector c = new SmtpConnector(u, cfg, group);
                    host = c.heloName;
                    ups.add(new Upstream(u, c::open));
                }
            }
        } catch (IOException | RuntimeException e) {
            group.shutdownGracefully(0, 0, TimeUnit.MILLISECONDS);
            throw e;
        }
        this.upstreams = List.copyOf(ups);
        this.dsn = new DsnWriter(queue, log, cfg.dsn(), cfg.dsnPerMinute(), host, clock);
        this.prober = Executors.newSingleThreadScheduledExecutor(new DefaultThreadFactory("forward-probe", true));
    }

    private static UpstreamSession outbox(UpstreamConfig u) throws SessionOpenException {
        try {
            return new OutboxSession(u.dir(), u.headers());
        } catch (IOException e) {
            throw new SessionOpenException("outbox[" + u.dir() + "]",
                    new FailurePolicy(List.of()).exception(Stage.CONNECT, e));
        }
    }

    /**
     * Starts dispatching from {@code queue} with {@code cfg}. Reads every upstream's credentials
     * and CA file first, so a bad secrets file fails here, at start.
     *
     * @throws IOException when an auth_file or ca_file cannot be used
     */
    public static Dispatcher start(Queue queue, ForwardConfig cfg, MailLog log) throws IOException {
        return start(queue, cfg, log, Clock.systemUTC());
    }

    public static Dispatcher start(Queue queue, ForwardConfig cfg, MailLog log, Clock clock) throws IOException {
        Dispatcher d = new Dispatcher(queue, cfg, log, clock);
        d.run();
        return d;
    }

    private void run() {
        for (Upstream u : upstreams) {
            for (int i = 0; i < u.workers(cfg.concurrency()); i++) {
                threads.add(thread("forward-" + u.name() + "-" + i, () -> work(u)));
            }
        }
        threads.add(thread("forward-dispatch", this::dispatch));
        long probe = cfg.probeInterval().toMillis();
        prober.scheduleWithFixedDelay(this::probe, probe, probe, TimeUnit.MILLISECONDS);
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
                if (upstreams.stream().noneMatch(Upstream::isUp)) {
                    // Everything is down: leave mail queued, untouched, until a probe succeeds.
                    synchronized (circuitChange) {
                        circuitChange.wait(cfg.probeInterval().toMillis());
                    }
                    continue;
                }
                if (!inflight.tryAcquire(250, TimeUnit.MILLISECONDS)) {
                    continue;
                }
                int n = 1;
                while (n < MAX_BATCH && inflight.tryAcquire()) {
                    n++;
                }
                List<QueueEntry> leased = running ? queue.leaseDue(clock.instant(), n) : List.of();
                inflight.release(n - leased.size());
                if (leased.isEmpty()) {
                    queue.awaitDue(Duration.ofMillis(500));
                    continue;
                }
                for (QueueEntry e : leased) {
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
        List<Upstream> route = route(e);
        for (Upstream u : route) {
            if (u.isUp()) {
                u.work.add(e);
                return;
            }
        }
        if (upstreams.stream().noneMatch(Upstream::isUp)) {
            // Everything went down after the lease: give it back untouched; the dispatcher now
            // waits for a probe instead of leasing.
            giveBack(e);
            inflight.release();
            return;
        }
        // Its routed upstreams are down while others are up: this entry cannot move now. Spend
        // an attempt (the prober's retryAll brings it back as soon as one is up again), because
        // giving it back would have the dispatcher lease it again at once, in a loop.
        Upstream first = route.get(0);
        String reason = "connect: upstream " + first.name() + " is down: " + first.downReason();
        Map<String, DeliveryOutcome> outcomes = new HashMap<>();
        Map<String, Stage> stages = new HashMap<>();
        for (String r : e.pendingRecipients()) {
            outcomes.put(r, new DeliveryOutcome.Deferred(reason));
            stages.put(r, Stage.CONNECT);
        }
        record(e, new Attempt(outcomes, stages, first.config.host() + ":" + first.config.port()), "-");
        inflight.release();
    }

    /** Upstreams that may carry {@code e}, in preference order. */
    private List<Upstream> route(QueueEntry e) {
        String sender = e.envelope().sender();
        String domain = sender.substring(sender.lastIndexOf('@') + 1).toLowerCase(Locale.ROOT);
        List<Upstream> routed = upstreams.stream().filter(u -> !domain.isEmpty() && u.routes(domain)).toList();
        if (!routed.isEmpty()) {
            return routed;
        }
        List<Upstream> defaults = upstreams.stream().filter(Upstream::isDefaultRoute).toList();
        return defaults.isEmpty() ? upstreams : defaults;
    }

    // ---- workers: one session each, many messages ----

    private void work(Upstream u) {
        UpstreamSession session = null;
        long idleSince = System.nanoTime();
        long lastNoop = idleSince;
        long slice = Math.max(10, Math.min(1000, Math.min(cfg.noopInterval().toMillis(), cfg.idleTimeout().toMillis())));
        try {
            while (running) {
                QueueEntry e = u.work.poll(slice, TimeUnit.MILLISECONDS);
                long now = System.nanoTime();
                if (e == null) {
                    if (session != null && now - idleSince >= cfg.idleTimeout().toNanos()) {
                        session.close();
                        session = null;
                    } else if (session != null && now - lastNoop >= cfg.noopInterval().toNanos()) {
                        lastNoop = now;
                        if (!session.keepAlive()) {
                            session.close();
                            session = null;
                        }
                    }
                    continue;
                }
                try {
                    session = deliver(u, e, session);
                } catch (RuntimeException | Error x) {
                    bug(e.id().toString(), x);
                    giveBack(e);
                    if (session != null) {
                        session.close();
                        session = null;
                    }
                } finally {
                    inflight.release();
                }
                idleSince = System.nanoTime();
                lastNoop = idleSince;
            }
        } catch (InterruptedException ie) {
            // Shutting down.
        } finally {
            if (session != null) {
                session.close();
            }
            for (QueueEntry left; (left = u.work.poll()) != null; ) {
                giveBack(left);
            }
        }
    }

    /** Sends one leased entry through {@code u}; returns the session to keep (or null). */
    private UpstreamSession deliver(Upstream u, QueueEntry e, UpstreamSession session) throws InterruptedException {
        if (!u.isUp() || !running) {
            // The circuit opened while this entry waited: let the dispatcher route it again.
            giveBack(e);
            return session;
        }
        u.rate.acquire();
        long t0 = System.nanoTime();
        double wait = Duration.between(e.nextAttemptAt(), clock.instant()).toMillis() / 1000.0;
        if (session != null && !session.reusable()) {
            session.close();
            session = null;
        }
        if (session == null) {
            try {
                session = u.open();
            } catch (SessionOpenException x) {
                down(u, x);
                giveBack(e);
                return null;
            }
        }
        long t1 = System.nanoTime();
        Attempt a = session.send(e, () -> queue.openMessage(e.id()));
        long t2 = System.nanoTime();
        if (session instanceof SmtpSession s && s.slowDownRequested) {
            u.rate.pause(1000);
        }
        String delays = String.format(Locale.ROOT, "%.2f/%.2f/%.2f", Math.max(0, wait), (t1 - t0) / 1e9, (t2 - t1) / 1e9);
        record(e, a, delays);
        if (!session.reusable()) {
            session.close();
            return null;
        }
        return session;
    }

    private void giveBack(QueueEntry e) {
        try {
            queue.returnLease(e.id());
        } catch (IllegalStateException x) {
            LOG.warn("{}: could not give the lease back: {}", e.id(), x.getMessage());
        }
    }

    private void down(Upstream u, SessionOpenException x) {
        FailurePolicy.Decision d = x.decision();
        if (u.markDown(d.outcome().reply())) {
            log.upstreamDown(u.name(), x.upstream(), d.outcome().reply());
            if (d.configError()) {
                FailurePolicy.logConfigError(u.name(), d.outcome());
            }
        }
    }

    // ---- recording ----

    private void record(QueueEntry e, Attempt a, String delays) {
        Instant now = clock.instant();
        Optional<QueueEntry> next = queue.recordOutcome(e.id(), a.outcomes(), now);
        if (next.isEmpty()) {
            return;
        }
        QueueEntry n = next.get();
        List<RecipientState> failedNow = new ArrayList<>();
        for (RecipientState r : n.recipients()) {
            if (!a.outcomes().containsKey(r.address()) || !e.pendingRecipients().contains(r.address())) {
                continue;
            }
            Stage st = a.stages().getOrDefault(r.address(), Stage.MAIL);
            switch (r.status()) {
                case DELIVERED -> log.delivered(e.id(), r.address(), a.upstream(), n.attempts(),
                        Duration.between(e.queuedAt(), now), delays, r.lastReply());
                case FAILED -> {
                    log.failed(e.id(), r.address(), a.upstream(), n.attempts(), st.name(), r.lastReply());
                    failedNow.add(r);
                }
                case PENDING -> log.deferred(e.id(), r.address(), a.upstream(), n.attempts(),
                        "+" + human(Duration.between(now, n.nextAttemptAt())), st.name(), r.lastReply());
            }
        }
        if (n.state() == EntryState.DELIVERED) {
            log.queueEvent(e.id(), "removed");
        }
        dsn.failed(n, failedNow);
    }

    static String human(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 120) {
            return s + "s";
        }
        if (s < 7200) {
            return (s / 60) + "m";
        }
        return (s / 3600) + "h";
    }

    // ---- the prober: notice recovery, then drain at full speed ----

    private void probe() {
        for (Upstream u : upstreams) {
            if (u.isUp() || !running) {
                continue;
            }
            try (UpstreamSession s = u.open()) {
                if (u.markUp()) {
                    int due = queue.retryAll(clock.instant());
                    log.upstreamUp(u.name(), s.upstream(), due);
                    synchronized (circuitChange) {
                        circuitChange.notifyAll();
                    }
                }
            } catch (SessionOpenException x) {
                LOG.debug("probe of {} failed: {}", u.name(), x.getMessage());
            } catch (RuntimeException x) {
                bug("probe " + u.name(), x);
            }
        }
    }

    private void bug(String where, Throwable t) {
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
            for (QueueEntry left; (left = u.work.poll()) != null; ) {
                giveBack(left);
            }
        }
        group.shutdownGracefully(0, 1, TimeUnit.SECONDS);
    }
}
