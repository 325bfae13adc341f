package relaybox.relay.forward;

import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;
import relaybox.relay.control.UpstreamTester;

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

    public UpstreamProbe(ForwardConfig config) {
        this.config = config;
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

    private Probe smtp(UpstreamConfig u) {
        long t0 = System.nanoTime();
        String what = "connect, greeting, EHLO"
                + (u.tls().equals("none") ? "" : ", TLS with a verified certificate for " + u.host())
                + (u.authFile() == null ? "" : ", AUTH");
        try {
            SmtpConnector connector = new SmtpConnector(u, config);
            try (UpstreamSession s = connector.open()) {
                return new Probe(u.name(), List.of(new Step("session", true, what + ": ok", millis(t0))));
            }
        } catch (SessionOpenException e) {
            return new Probe(u.name(), List.of(new Step("session", false, e.decision().outcome().reply(), millis(t0))));
        } catch (IOException | RuntimeException e) {
            return new Probe(u.name(), List.of(new Step("session", false, e.toString(), millis(t0))));
        }
    }

    private static long millis(long t0) {
        return TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
    }
}
