package relaybox.relay.metrics;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.Envelope;
import relaybox.queue.MutableClock;
import relaybox.queue.Queue;
import relaybox.queue.RetrySchedule;
import relaybox.queue.memory.InMemoryQueue;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.MetricsConfig;
import relaybox.relay.config.QueueConfig;

import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The daemon's wiring in small: queue gauges, the endpoint from metrics_listen, health from links. */
class ObservabilityTest {

    @Test
    void offByDefault(@TempDir Path dir) throws Exception {
        QueueConfig q = QueueConfig.from(ConfigReader.parse("t", "queue_dir = \"" + dir + "\"\nqueue_min_free_space = 1"));
        try (InMemoryQueue queue = new InMemoryQueue();
             Observability o = Observability.start(MetricsConfig.from(ConfigReader.empty()), q, queue, () -> true,
                     java.time.Clock.systemUTC())) {
            assertTrue(o.metricsAddress().isEmpty());
        }
    }

    @Test
    void wiredLikeTheDaemon(@TempDir Path dir) throws Exception {
        MutableClock clock = new MutableClock();
        QueueConfig q = QueueConfig.from(ConfigReader.parse("t", "queue_dir = \"" + dir + "\"\nqueue_min_free_space = 1"));
        MetricsConfig m = MetricsConfig.from(ConfigReader.parse("t", "metrics_listen = \"127.0.0.1:0\""));
        AtomicBoolean intakeUp = new AtomicBoolean(true);
        try (InMemoryQueue queue = new InMemoryQueue(clock, RetrySchedule.DEFAULT);
             Observability o = Observability.start(m, q, queue, intakeUp::get, clock)) {
            Queue.Incoming in = queue.receive();
            in.body().write("Subject: x\r\n\r\nhi\r\n".getBytes(StandardCharsets.US_ASCII));
            queue.accept(in, Envelope.of("a@b.example", List.of("c@d.example")), "");
            o.metrics().accepted(20);
            o.metrics().linkState("ses", LinkState.UP);

            var addr = o.metricsAddress().orElseThrow();
            Map<String, Double> s = Scrape.samples(Scrape.get(addr, "/metrics", null).body());
            assertEquals(1.0, s.get("relaybox_queue_entries{state=\"queued\"}"));
            assertEquals(1.0, s.get("relaybox_messages_accepted_total"));
            assertEquals(200, Scrape.get(addr, "/healthz", null).statusCode());

            o.metrics().linkState("ses", LinkState.DOWN);
            HttpResponse<String> h = Scrape.get(addr, "/healthz", null);
            assertEquals(200, h.statusCode());
            assertEquals("{\"status\":\"degraded\",\"reasons\":[\"upstream ses down\"]}\n", h.body());

            // Why, in the provider's words, and never as a metric label.
            o.metrics().linkState("ses", LinkState.BACKOFF, "AUTH: token endpoint login.example refused the"
                    + " refresh_token grant: HTTP 400, invalid_grant: AADSTS700082: expired due to inactivity.");
            assertEquals("{\"status\":\"degraded\",\"reasons\":[\"upstream ses backoff: AUTH: token endpoint"
                    + " login.example refused the refresh_token grant: HTTP 400, invalid_grant: AADSTS700082: expired"
                    + " due to inactivity.\"]}\n", Scrape.get(addr, "/healthz", null).body());
            org.junit.jupiter.api.Assertions.assertFalse(Scrape.get(addr, "/metrics", null).body().contains("AADSTS"));
            o.metrics().linkState("ses", LinkState.PROBING, "");
            assertTrue(Scrape.get(addr, "/healthz", null).body().contains("probing: AUTH"), "kept while probing");
            o.metrics().linkState("ses", LinkState.UP, "");
            o.metrics().linkState("ses", LinkState.DOWN, "");
            assertEquals("{\"status\":\"degraded\",\"reasons\":[\"upstream ses down\"]}\n",
                    Scrape.get(addr, "/healthz", null).body(), "forgotten once up");

            intakeUp.set(false);
            assertEquals(503, Scrape.get(addr, "/healthz", null).statusCode());
        }
    }
}
