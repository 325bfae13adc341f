package relaybox.relay.forward;

import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.log.MailEvents;
import relaybox.relay.metrics.RelayMetrics;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * Owns when mail is sent: it leases due entries from the queue, has {@link Routing} pick an
 * upstream for each (sender-domain route, then failover order, skipping upstreams that are down
 * or paused) and hands them to that upstream's {@link UpstreamWorker}s. The state of the links
 * (down, probing, up, paused, slowed) is the {@link LinkMonitor}'s; workers reach the rest through
 * {@link WorkerServices} ({@link DispatchServices}). It never speaks SMTP (sessions do), never decides what a reply means
 * ({@link FailurePolicy} does) and leaves recording to {@link OutcomeRecorder}.
 *
 * <p>Concurrency: each upstream has {@code min(max_connections, forward_concurrency)} workers,
 * each owning at most one session that it keeps across messages, NOOPs while idle and closes
 * after {@code forward_idle_timeout}. At most {@code forward_concurrency} messages are being
 * sent at once; up to {@link #AHEAD_PER_SESSION} times as many are leased (SENDING) and wait in
 * the upstreams' backlogs. An entry leased but not yet sent costs nothing at a crash: recovery
 * makes it QUEUED again, and shutdown gives it back.
 *
 * <p>Offline: while no upstream takes mail (all down or paused) nothing is leased; the dispatcher
 * waits for the link monitor to report a change.
 *
 * <p>Failure behaviour: exceptions on worker threads are caught, logged with the queue id, and
 * the entry is given back to the queue; {@link #firstBug()} exposes the first one for tests.
 * {@link #close()} stops leasing, gives back entries not yet sent and QUITs sessions.
 *
 * <p>Known limits: an entry is only expired (failed after the queue lifetime) when an attempt is
 * made, so mail held back by a long total outage is delivered late rather than bounced. Mail routed
 * by {@code sender_domains} to upstreams that are all down or paused, while others are up, spends
 * attempts (the dispatcher cannot park it) and comes back with {@code retryAll} when one recovers.
 *
 * <p>Thread safety: {@link #start} and {@link #close} may be called from any thread; close is
 * idempotent and returns once every worker has stopped.
 */
public final class Dispatcher implements AutoCloseable {

    /**
     * Entries leased ahead per session, so that a worker that finishes a message finds the next
     * one waiting in its upstream's backlog. With one lease per finished message the dispatcher
     * and a worker woke each other for every message: 8 futex calls per message in a drain.
     */
    static final int AHEAD_PER_SESSION = 8;

    private final Queue queue;
    private final ForwardConfig cfg;
    private final Clock clock;
    private final List<Upstream> upstreams;
    private final Routing routing;
    private final LeaseBudget budget;
    private final DispatchServices services;
    private final LinkMonitor links;
    private final List<Thread> threads = new ArrayList<>();

    private Dispatcher(Queue queue, ForwardConfig cfg, MailEvents log, Clock clock, RelayMetrics metrics,
                       MessageSigner signer, UpstreamSizes sizes, Path pauseFile) throws IOException {
        this.queue = queue;
        this.cfg = cfg;
        this.clock = clock;
        this.budget = new LeaseBudget(cfg.concurrency() * AHEAD_PER_SESSION);
        List<Upstream> ups = new ArrayList<>();
        String host = cfg.heloName().isEmpty() ? SmtpConnector.localName() : cfg.heloName();
        for (UpstreamConfig u : cfg.upstreams()) {
            ups.add(new Upstream(u, Forwarder.of(u, cfg, sizes)));
        }
        this.upstreams = List.copyOf(ups);
        this.routing = new Routing(upstreams);
        OutcomeRecorder recorder = new OutcomeRecorder(queue, log,
                new DsnWriter(queue, log, cfg.dsn(), cfg.dsnPerMinute(), host, clock, signer), clock, metrics);
        this.services = new DispatchServices(queue, cfg, clock, metrics, budget, recorder);
        this.links = new LinkMonitor(queue, cfg, upstreams, log, clock, metrics, new PauseFile(pauseFile),
                services::bug);
        services.links(links);
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
        return start(queue, cfg, log, clock, metrics, signer, UpstreamSizes.NONE, null);
    }

    /**
     * As above, recording the SIZE each upstream advertises in {@code sizes} (for the intake) and
     * keeping upstream pauses in {@code pauseFile} across restarts (null: in memory only). The
     * daemon passes {@code queue_dir/upstream-pauses}.
     */
    public static Dispatcher start(Queue queue, ForwardConfig cfg, MailEvents log, Clock clock, RelayMetrics metrics,
                                   MessageSigner signer, UpstreamSizes sizes, Path pauseFile) throws IOException {
        Dispatcher d = new Dispatcher(queue, cfg, log, clock, metrics, signer, sizes, pauseFile);
        d.run();
        return d;
    }

    /** Where the daemon keeps upstream pauses: a small file beside the queue's store. */
    public static Path pauseFile(Path queueDir) {
        return queueDir.resolve(PauseFile.NAME);
    }

    private void run() {
        // Each link has its series and a health verdict from the start (paused ones as they were).
        links.start();
        for (Upstream u : upstreams) {
            for (int i = 0; i < u.workers(cfg.concurrency()); i++) {
                threads.add(thread("forward-" + u.name() + "-" + i, new UpstreamWorker(services, u, i)));
            }
        }
        threads.add(thread("forward-dispatch", this::dispatch));
    }

    private static Thread thread(String name, Runnable r) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    /** The first unexpected exception a worker caught, or null: tests assert it stays null. */
    public Throwable firstBug() {
        return services.firstBug();
    }

    /** True when the named upstream's circuit is closed (it is taking mail). */
    public boolean isUp(String upstream) {
        return upstreams.stream().filter(u -> u.name().equals(upstream)).anyMatch(Upstream::isUp);
    }

    // ---- the dispatcher thread: lease and hand over ----

    private void dispatch() {
        while (services.running()) {
            try {
                if (!routing.anyUp()) {
                    // Everything is down or paused: leave mail queued, untouched, until one is back.
                    links.awaitChange(cfg.probeInterval().toMillis());
                    continue;
                }
                int n = budget.reserve();
                if (n == 0) {
                    continue;
                }
                List<QueueEntry> got = services.running() ? queue.leaseDue(clock.instant(), n) : List.of();
                budget.release(n - got.size());
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
                services.bug("dispatch", e);
            }
        }
    }

    private void hand(QueueEntry e) {
        Upstream to = routing.pick(e);
        if (to != null) {
            to.submit(e, clock.instant());
            return;
        }
        if (!routing.anyUp()) {
            // Everything went down after the lease: give it back untouched; the dispatcher now
            // waits for a probe instead of leasing.
            services.giveBack(e);
            services.released();
            return;
        }
        // Its routed upstreams are down or paused while others are up: this entry cannot move now.
        // Spend an attempt (retryAll brings it back as soon as one is up again), because giving it
        // back would have the dispatcher lease it again at once, in a loop.
        Upstream first = routing.route(e).get(0);
        String reason = "connect: " + first.unavailableReason();
        Map<String, Outcome> outcomes = new HashMap<>();
        Outcome down = FailurePolicy.localFailure(Stage.CONNECT, reason);
        for (String r : e.pendingRecipients()) {
            outcomes.put(r, down);
        }
        Attempt a = new Attempt(outcomes, first.config.host() + ":" + first.config.port());
        services.record(first, e, a, "-");
        services.released();
    }

    /** The forwarder of the upstream named {@code name}, or null. */
    public Forwarder forwarder(String name) {
        return upstreams.stream().filter(u -> u.name().equals(name)).map(Upstream::forwarder).findFirst().orElse(null);
    }

    /** Each upstream's link now, in configuration order. */
    public List<LinkView> links() {
        return upstreams.stream().map(Upstream::view).toList();
    }

    /**
     * An operator acted ({@code relaybox upstream test}, {@code queue retry}): every backoff is
     * cleared and every down upstream is probed now, not at its next probe time.
     */
    public void probeNow() {
        links.probeNow();
    }

    /** One pass of the prober over the down upstreams whose probe is due; for tests with a fake clock. */
    public void probe() {
        links.probe();
    }

    /**
     * Pauses the upstream named {@code name} for {@code length} (null: until resumed); its mail
     * waits in the queue or goes to the next upstream of its route. Empty if there is none.
     */
    public Optional<LinkView> pause(String name, Duration length, String by) {
        return links.pause(name, length, by);
    }

    /** Ends the pause of the upstream named {@code name}. Empty if there is none. */
    public Optional<LinkView> resume(String name, String by) {
        return links.resume(name, by);
    }

    /**
     * Stops leasing, waits up to {@code forward_command_timeout} for messages in flight, gives
     * back every entry not yet sent ({@link Queue#returnLease}) and QUITs every session.
     */
    @Override
    public void close() {
        if (!services.stop()) {
            return;
        }
        links.close();
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
            u.drainBacklog().forEach(services::giveBack);
        }
    }
}
