package relaybox.relay.control;

import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A ready {@link StatusSource} for the daemon: the stages report into it (the intake after each
 * accept, the forwarder after each delivery and on every link change) and the control service
 * reads it. It only counts and remembers; it decides nothing.
 *
 * <p>Thread safety: every method may be called from any thread.
 */
public final class DaemonStatus implements StatusSource {

    private final Clock clock;
    private final Instant startedAt;
    private final List<Listener> listeners = new CopyOnWriteArrayList<>();
    private final Map<String, Link> links = new ConcurrentHashMap<>();
    private final List<String> linkOrder = new CopyOnWriteArrayList<>();
    private final EventCounter accepted = new EventCounter();
    private final EventCounter delivered = new EventCounter();

    public DaemonStatus(Clock clock) {
        this.clock = clock;
        this.startedAt = clock.instant();
    }

    /** A listener the daemon serves, e.g. ("intake", "127.0.0.1:25"), added once bound. */
    public void listening(String name, String address) {
        listeners.add(new Listener(name, address));
    }

    /** The intake accepted (queued) one message. */
    public void accepted() {
        accepted.record(clock.instant());
    }

    /** The forwarder finished one message: no recipient left pending. */
    public void delivered() {
        delivered.record(clock.instant());
    }

    /** A link changed state ("up", "idle", "connecting", "down"); {@code since} is kept while the state stays. */
    public void link(String upstream, String state, String detail) {
        links.compute(upstream, (k, old) -> old != null && old.state().equals(state)
                ? new Link(k, state, detail, old.since())
                : new Link(k, state, detail, clock.instant()));
        if (!linkOrder.contains(upstream)) {
            linkOrder.add(upstream);
        }
    }

    @Override
    public Instant startedAt() {
        return startedAt;
    }

    @Override
    public List<Listener> listeners() {
        return List.copyOf(listeners);
    }

    @Override
    public List<Link> links() {
        List<Link> out = new ArrayList<>();
        for (String u : linkOrder) {
            Link l = links.get(u);
            if (l != null) {
                out.add(l);
            }
        }
        return out;
    }

    @Override
    public Throughput throughput(Instant now) {
        return new Throughput(accepted.lastMinute(now), accepted.lastHour(now), delivered.lastMinute(now),
                delivered.lastHour(now));
    }
}
