package relaybox.relay;

import relaybox.relay.control.EventCounter;
import relaybox.relay.control.StatusSource;
import relaybox.relay.forward.Dispatcher;
import relaybox.relay.forward.LinkView;
import relaybox.relay.dkim.MessageSigner.SignedBy;
import relaybox.relay.intake.IntakeServer;
import relaybox.relay.log.MailEvents;
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
 * state and recent throughput. Throughput is counted from the mail events the log writes its
 * lines from (one "queued" per accepted message, one "delivered" per delivered recipient), so the
 * figures an operator sees in {@code relaybox queue stats} are the ones the log shows. It is one
 * listener of {@link MailEvents}, beside the mail log and the metrics.
 */
final class DaemonStatus implements MailEvents, StatusSource {

    private final Instant startedAt;
    private final Clock clock;
    private final EventCounter accepted = new EventCounter();
    private final EventCounter delivered = new EventCounter();
    private volatile IntakeServer intake;
    private volatile Dispatcher dispatcher;
    private volatile List<String> upstreams = List.of();
    private volatile String controlSocket = "";
    private volatile String metricsAddress = "";

    DaemonStatus(Clock clock) {
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
    }

    @Override
    public void queued(QueueId id, String from, int nrcpt, long size, String client, String helo, String tls,
                       List<SignedBy> dkim) {
        accepted.record(clock.instant());
    }

    @Override
    public void delivered(QueueId id, String to, String upstream, int attempt, Duration delay, String delays,
                          String reply) {
        delivered.record(clock.instant());
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
            if (v.pause() != null) {
                // Paused wins over the circuit: no session is opened, whatever the link would do.
                out.add(new Link(v.name(), "paused", v.pause().describe(), v.pause().since(), v.pause().until()));
                continue;
            }
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
