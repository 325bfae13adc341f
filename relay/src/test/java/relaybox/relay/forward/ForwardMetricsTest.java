package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.metrics.LinkState;
import relaybox.relay.metrics.RelayMetrics;

import java.net.ServerSocket;
import java.time.Clock;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The dispatcher's counts after a scripted run against the fake ESP. */
class ForwardMetricsTest {

    private static final Duration WAIT = Duration.ofSeconds(15);
    @AutoClose
    private final Harness h = new Harness();
    private final RelayMetrics metrics = h.own(new RelayMetrics());

    @Test
    void deliveredDeferredFailedAndSessionsAreCounted() throws Exception {
        try (FakeEsp esp = new FakeEsp().start()) {
            ForwardConfig cfg = Harness.config(1, new Harness.Up("esp", esp.port()).build());
            h.dispatcher = Dispatcher.start(h.queue, cfg, h.log, Clock.systemUTC(), metrics);

            esp.reply("RCPT", "550 5.1.1 no such user", 1);
            QueueEntry failed = h.enqueue("app@corp.example", List.of("nobody@x.example"), Harness.message(0));
            h.await("failed", WAIT, () -> h.queue.get(failed.id()).map(e -> e.state() == EntryState.FAILED)
                    .orElse(false));

            esp.reply("RCPT", "451 4.7.1 try later", 1);
            QueueEntry retried = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
            h.await("deferred, then delivered", WAIT, () -> h.queue.get(retried.id()).isEmpty());

            for (int i = 2; i < 5; i++) {
                h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(i));
            }
            // Four messages and the DSN for the failed one.
            h.await("all delivered", WAIT, () -> h.queue.list().size() == 1
                    && h.linesWith(" forward delivered ").size() == 5);
        }
        h.dispatcher.close();
        Map<String, Double> s = samples(metrics.scrape());
        assertEquals(5.0, s.get("relaybox_messages_delivered_total{upstream=\"esp\"}"), metrics.scrape());
        assertEquals(1.0, s.get("relaybox_messages_deferred_total{reply_class=\"4xx\",upstream=\"esp\"}"));
        assertEquals(1.0, s.get("relaybox_messages_failed_total{reply_class=\"5xx\",upstream=\"esp\"}"));
        assertEquals(5.0, s.get("relaybox_delivery_latency_seconds_count"));
        assertTrue(s.get("relaybox_forward_bytes_total{upstream=\"esp\"}") > 4 * 60);
        double opened = s.get("relaybox_upstream_connections_opened_total{upstream=\"esp\"}");
        assertTrue(opened >= 1, "opened " + opened);
        // Every session is closed by now, and together they carried every attempt (7 of them).
        assertEquals(0.0, s.get("relaybox_upstream_connections_open{upstream=\"esp\"}"));
        assertEquals(opened, s.get("relaybox_upstream_messages_per_connection_count{upstream=\"esp\"}"));
        assertEquals(7.0, s.get("relaybox_upstream_messages_per_connection_sum{upstream=\"esp\"}"));
    }

    @Test
    void anUnreachableUpstreamIsDownOrProbing() throws Exception {
        int closedPort;
        try (ServerSocket s = new ServerSocket(0)) {
            closedPort = s.getLocalPort();
        }
        ForwardConfig cfg = Harness.config(1, new Harness.Up("esp", closedPort).build());
        h.dispatcher = Dispatcher.start(h.queue, cfg, h.log, Clock.systemUTC(), metrics);
        h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(0));
        h.await("link down", WAIT, () -> {
            LinkState l = metrics.linkStates().get("esp");
            return l == LinkState.DOWN || l == LinkState.PROBING;
        });
        assertEquals(1, h.linesWith(" forward down ").size());
    }

    private static Map<String, Double> samples(String exposition) {
        Pattern p = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*(\\{[^}]*})?) (\\S+).*$");
        Map<String, Double> out = new HashMap<>();
        for (String line : exposition.split("\n")) {
            Matcher m = p.matcher(line);
            if (!line.startsWith("#") && m.matches()) {
                out.put(m.group(1), Double.parseDouble(m.group(3)));
            }
        }
        return out;
    }
}
