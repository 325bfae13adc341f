package relaybox.relay;

import relaybox.relay.control.EventCounter;
import relaybox.relay.control.StatusSource;
import relaybox.relay.forward.Dispatcher;
import relaybox.relay.forward.LinkView;
import relaybox.relay.intake.IntakeServer;
import relaybox.relay.metrics.LinkState;
import relaybox.relay.metrics.MetricsMailLog;
import relaybox.relay.metrics.RelayMetrics;
import relaybox.queue.QueueId;

import java.net.InetSocketAddress;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * What the running daemon tells the control API about itself: listeners, each upstream's link
 * state and recent throughput. Throughput is counted from the mail log's own events (one
 * "queued" line per accepted message, one "delivered" line per delivered recipient), so the
 * figures an operator sees in {@code relaybox queue stats} are the ones the log shows. The same
 * events feed the Prometheus metrics ({@link MetricsMailLog}).
 */
final class DaemonStatus extends MetricsMailLog implements StatusSource {

    private final Instant startedAt;
    private final Clock clock;
    private final EventCounter accepted = new EventCounter();
    private final EventCounter delivered = new EventCounter();
    private volatile IntakeServer intake;
    private volatile Dispatcher dispatcher;
    private volatile List<String> upstreams = List.of();
    private volatile String controlSocket = "";
    private volatile String metricsAddress = "";
    private final RelayMetrics metrics;

    DaemonStatus(Clock clock, RelayMetrics metrics) {
        super(metrics);
        this.metrics = metrics;
        this.clock = clock;
        this.startedAt = clock.instant();
    }

    void attach(IntakeServer intake, Dispatcher dispatcher, List<String> upstreams, String controlSocket,
                Optional<InetSocketAddress> metrics) {
        this.intake = intake;
        this.dispatcher = dispatcher;
        this.upstreams = List.copyOf(upstreams);
        this.controlSocket = controlSocket;
        this.metricsAddress = metrics.map(a -> a.getHostString() + ":" + a.getPort()).orElse("");
        // Every link starts up (the dispatcher's circuits start closed), so each has a series and
        // a health verdict from the start; upstreamDown/upstreamUp log lines move it from here on.
        for (String u : upstreams) {
            this.metrics.linkState(u, dispatcher.isUp(u) ? LinkState.UP : LinkState.DOWN);
        }
    }

    @Override
    public void queued(QueueId id, String from, int nrcpt, long size, String client, String helo, String tls,
                       String dkim) {
        accepted.record(clock.instant());
        super.queued(id, from, nrcpt, size, client, helo, tls, dkim);
    }

    @Override
    public void delivered(QueueId id, String to, String upstream, int attempt, Duration delay, String delays,
                          String reply) {
        delivered.record(clock.instant());
        super.delivered(id, to, upstream, attempt, delay, delays, reply);
    }

    @Override
    public Instant startedAt() {
        return startedAt;
    }

    @Override
    public List<Listener> listeners() {
        List<Listener> out = new ArrayList<>();
        IntakeServer i = intake;
        if (i != null) {
            for (InetSocketAddress a : i.boundAddresses()) {
                out.add(new Listener("intake", a.getHostString() + ":" + a.getPort()));
            }
        }
        if (!controlSocket.isEmpty()) {
            out.add(new Listener("control", controlSocket));
        }
        if (!metricsAddress.isEmpty()) {
            out.add(new Listener("metrics", metricsAddress));
        }
        return out;
    }

    @Override
    public List<Link> links() {
        Dispatcher d = dispatcher;
        if (d == null) {
            return upstreams.stream().map(n -> new Link(n, "idle", "", startedAt)).toList();
        }
        List<Link> out = new ArrayList<>();
        for (LinkView v : d.links()) {
            String state = v.up() ? "up" : v.backingOff() ? "backoff" : "down";
            // "since" is the time of the transition, recorded by the dispatcher; before the first
            // change it is the daemon's start.
            Instant since = v.since().equals(Instant.EPOCH) ? startedAt : v.since();
            out.add(new Link(v.name(), state, v.reason(), since, v.nextProbe()));
        }
        return out;
    }

    @Override
    public Throughput throughput(Instant now) {
        return new Throughput(accepted.countLast(60, now), accepted.countLast(3600, now),
                delivered.countLast(60, now), delivered.countLast(3600, now));
    }
}
