package relaybox.relay.forward;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.metrics.RelayMetrics;

import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Owns what the {@link Dispatcher}'s workers share, behind the narrow {@link WorkerServices}
 * they see: the settings and the clock, the running flag, the lease budget they give back to,
 * the queue reads and lease returns, recording ({@link OutcomeRecorder}), session opening with
 * metering, and the link monitor they report to. Kept out of the dispatcher so the dispatcher
 * reads as "lease and hand over" and the workers cannot reach its fields. Any thread.
 */
final class DispatchServices implements WorkerServices {

    /** Dispatcher's logger: these lines keep the name operators already filter on. */
    private static final Logger LOG = LoggerFactory.getLogger(Dispatcher.class);

    private final Queue queue;
    private final ForwardConfig cfg;
    private final Clock clock;
    /** Where sessions are counted; null when nobody collects metrics. */
    private final RelayMetrics metrics;
    private final LeaseBudget budget;
    private final OutcomeRecorder recorder;
    private LinkMonitor links;
    private final AtomicReference<Throwable> firstBug = new AtomicReference<>();
    private volatile boolean running = true;

    DispatchServices(Queue queue, ForwardConfig cfg, Clock clock, RelayMetrics metrics, LeaseBudget budget,
                     OutcomeRecorder recorder) {
        this.queue = queue;
        this.cfg = cfg;
        this.clock = clock;
        this.metrics = metrics;
        this.budget = budget;
        this.recorder = recorder;
    }

    /** The link monitor reports its own bugs here ({@link #bug}), so it is made after this and set once. */
    void links(LinkMonitor links) {
        this.links = links;
    }

    /** Stops new work; true when it was running (the first call), so stopping happens once. */
    boolean stop() {
        if (!running) {
            return false;
        }
        running = false;
        return true;
    }

    Throwable firstBug() {
        return firstBug.get();
    }

    @Override
    public ForwardConfig config() {
        return cfg;
    }

    @Override
    public Clock clock() {
        return clock;
    }

    @Override
    public boolean running() {
        return running;
    }

    @Override
    public void released() {
        budget.release(1);
    }

    @Override
    public void giveBack(QueueEntry e) {
        try {
            queue.returnLease(e.id());
        } catch (IllegalStateException x) {
            LOG.warn("{}: could not give the lease back: {}", e.id(), x.getMessage());
        }
    }

    @Override
    public InputStream openMessage(QueueEntry e) throws IOException {
        return queue.openMessage(e.id());
    }

    @Override
    public void record(Upstream u, QueueEntry e, Attempt a, String delays) {
        recorder.record(u.name(), e, a, delays);
    }

    @Override
    public UpstreamSession open(Upstream u) throws SessionOpenException {
        return open(u, Login.DEFAULT);
    }

    @Override
    public UpstreamSession open(Upstream u, Login login) throws SessionOpenException {
        UpstreamSession s = u.open(login);
        return metrics == null ? s : new MeteredSession(s, u.name(), metrics);
    }

    @Override
    public void cannotOpen(Upstream u, SessionOpenException x) {
        links.cannotOpen(u, x);
    }

    @Override
    public void signal(Upstream u, FailurePolicy.Decision d) {
        links.signal(u, d);
    }

    @Override
    public void bug(String where, Throwable t) {
        firstBug.compareAndSet(null, t);
        LOG.error("{}: unexpected failure in the dispatcher", where, t);
    }
}
