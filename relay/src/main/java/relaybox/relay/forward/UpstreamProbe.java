package relaybox.relay.forward;

import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Answers {@code relaybox upstream test}: opens a session to each configured upstream exactly as
 * the forwarder would (connect, greeting, EHLO, STARTTLS with certificate and host name check,
 * AUTH), reports how far it got and the upstream's literal reply, then quits without sending
 * mail. Owns nothing but the probe's own short-lived connections.
 */
public final class UpstreamProbe implements UpstreamTester {

    private final ForwardConfig config;
    /** The running forwarder of an upstream by name, or null: its sessions, its cached token. */
    private final java.util.function.Function<String, Forwarder> running;

    public UpstreamProbe(ForwardConfig config) {
        this(config, name -> null);
    }

    /**
     * Probes through the running daemon's forwarders where {@code running} has one, so a test
     * uses the upstream's cached XOAUTH2 token instead of fetching (and maybe rotating) another.
     */
    public UpstreamProbe(ForwardConfig config, java.util.function.Function<String, Forwarder> running) {
        this.config = config;
        this.running = running;
    }

    @Override
    public List<Probe> probeAll() {
        List<Probe> out = new ArrayList<>();
        for (UpstreamConfig u : config.upstreams()) {
            out.add(u.isOutbox() ? outbox(u) : smtp(u));
        }
        return out;
    }

    private static Probe outbox(UpstreamConfig u) {
        boolean ok = Files.isDirectory(u.dir()) ? Files.isWritable(u.dir()) : Files.isWritable(u.dir().getParent());
        return new Probe(u.name(), List.of(new Step("outbox", ok,
                (ok ? "writable: " : "not writable: ") + u.dir(), 0)));
    }

    /**
     * Each step of opening a session, with its time and result; the first failure is the last
     * step. Nothing is sent after the session is open: the probe QUITs.
     */
    private Probe smtp(UpstreamConfig u) {
        List<Step> steps = new ArrayList<>();
        long[] last = {System.nanoTime()};
        SessionTrace trace = (step, ok, detail) -> {
            steps.add(new Step(step, ok, detail, millis(last[0])));
            last[0] = System.nanoTime();
        };
        try {
            Forwarder f = running.apply(u.name());
            Forwarder connector = f != null ? f : new SmtpConnector(u, config);
            try (UpstreamSession s = connector.open(trace)) {
                return new Probe(u.name(), steps);
            }
        } catch (SessionOpenException e) {
            if (steps.isEmpty() || steps.get(steps.size() - 1).ok()) {
                steps.add(new Step("session", false, e.decision().outcome().reply(), millis(last[0])));
            }
            return new Probe(u.name(), steps);
        } catch (IOException | RuntimeException e) {
            // The files it names (auth_file, ca_file): config check says more.
            steps.add(new Step("config", false, e.getMessage() == null ? e.toString() : e.getMessage(),
                    millis(last[0])));
            return new Probe(u.name(), steps);
        }
    }

    private static long millis(long t0) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    }
}
