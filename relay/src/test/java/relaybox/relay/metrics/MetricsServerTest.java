package relaybox.relay.metrics;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsServerTest {

    private final RelayMetrics metrics = new RelayMetrics();
    private MetricsServer server;

    @AfterEach
    void stop() {
        if (server != null) {
            server.close();
        }
        metrics.close();
    }

    @Test
    void scriptedRunIsScrapedOverHttp() throws Exception {
        server = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "/metrics",
                metrics, new FakeHealth());
        metrics.linkState("esp1", LinkState.UP);
        metrics.connectionOpened("esp1");
        for (int i = 0; i < 5; i++) {
            metrics.accepted(1000);
            metrics.intakeLatency(Duration.ofMillis(3));
        }
        for (int i = 0; i < 5; i++) {
            metrics.delivered("esp1", 1200);
            metrics.endToEndLatency(Duration.ofMillis(700));
        }
        metrics.deferred("esp1", "4xx");
        metrics.failed("esp1", "5xx");
        metrics.refused("relay_denied");
        metrics.refused("a reply text, not a reason");
        metrics.dkimSigned("corp.example");
        metrics.dkimFailed("no_key");

        HttpResponse<String> r = Scrape.get(server.address(), "/metrics", null);
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("text/plain; version=0.0.4"));
        Map<String, Double> s = Scrape.samples(r.body());

        assertEquals(5.0, s.get("relaybox_messages_accepted_total"), r.body());
        assertEquals(5000.0, s.get("relaybox_intake_bytes_total"));
        assertEquals(5.0, s.get("relaybox_messages_delivered_total{upstream=\"esp1\"}"));
        assertEquals(6000.0, s.get("relaybox_forward_bytes_total{upstream=\"esp1\"}"));
        assertEquals(1.0, s.get("relaybox_messages_deferred_total{reply_class=\"4xx\",upstream=\"esp1\"}"));
        assertEquals(1.0, s.get("relaybox_messages_failed_total{reply_class=\"5xx\",upstream=\"esp1\"}"));
        assertEquals(1.0, s.get("relaybox_messages_refused_total{reason=\"relay_denied\"}"));
        assertEquals(1.0, s.get("relaybox_messages_refused_total{reason=\"other\"}"));
        assertEquals(1.0, s.get("relaybox_dkim_signed_total{domain=\"corp.example\"}"));
        assertEquals(1.0, s.get("relaybox_dkim_failures_total{reason=\"no_key\"}"));
        assertEquals(1.0, s.get("relaybox_upstream_connections_opened_total{upstream=\"esp1\"}"));
        assertEquals(1.0, s.get("relaybox_upstream_connections_open{upstream=\"esp1\"}"));
        assertEquals(1.0, s.get("relaybox_upstream_link_state{state=\"up\",upstream=\"esp1\"}"));
        assertEquals(0.0, s.get("relaybox_upstream_link_state{state=\"down\",upstream=\"esp1\"}"));
        assertEquals(5.0, s.get("relaybox_intake_latency_seconds_count"));
        assertEquals(5.0, s.get("relaybox_intake_latency_seconds_bucket{le=\"0.005\"}"));
        assertEquals(0.0, s.get("relaybox_intake_latency_seconds_bucket{le=\"0.002\"}"));
        assertEquals(5.0, s.get("relaybox_delivery_latency_seconds_bucket{le=\"1.0\"}"));
        assertEquals(0.0, s.get("relaybox_delivery_latency_seconds_bucket{le=\"0.5\"}"));
        assertTrue(s.get("jvm_memory_used_bytes{area=\"heap\",id=\"G1 Eden Space\"}") != null
                || s.keySet().stream().anyMatch(k -> k.startsWith("jvm_memory_used_bytes")), "JVM metrics");
        assertTrue(s.keySet().stream().anyMatch(k -> k.startsWith("process_uptime_seconds")), "uptime");

        metrics.connectionClosed("esp1", 5);
        metrics.linkState("esp1", LinkState.DOWN);
        s = Scrape.samples(Scrape.get(server.address(), "/metrics", null).body());
        assertEquals(0.0, s.get("relaybox_upstream_connections_open{upstream=\"esp1\"}"));
        assertEquals(1.0, s.get("relaybox_upstream_messages_per_connection_count{upstream=\"esp1\"}"));
        assertEquals(5.0, s.get("relaybox_upstream_messages_per_connection_sum{upstream=\"esp1\"}"));
        assertEquals(1.0, s.get("relaybox_upstream_link_state{state=\"down\",upstream=\"esp1\"}"));
        assertEquals(0.0, s.get("relaybox_upstream_link_state{state=\"up\",upstream=\"esp1\"}"));
    }

    @Test
    void openMetricsIsServedWhenAsked() throws Exception {
        server = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "/metrics",
                metrics, new FakeHealth());
        metrics.accepted(10);
        HttpResponse<String> r = Scrape.get(server.address(), "/metrics",
                "application/openmetrics-text; version=1.0.0,text/plain;q=0.5");
        assertEquals(200, r.statusCode());
        assertTrue(r.headers().firstValue("Content-Type").orElse("").startsWith("application/openmetrics-text"));
        assertTrue(r.body().endsWith("# EOF\n"), r.body());
        assertTrue(r.body().contains("relaybox_messages_accepted_total 1.0"), r.body());
    }

    @Test
    void otherMethodsAreRefused() throws Exception {
        server = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "/metrics",
                metrics, new FakeHealth());
        var req = java.net.http.HttpRequest.newBuilder(
                        java.net.URI.create("http://127.0.0.1:" + server.address().getPort() + "/metrics"))
                .POST(java.net.http.HttpRequest.BodyPublishers.ofString("x")).build();
        var r = java.net.http.HttpClient.newHttpClient().send(req, HttpResponse.BodyHandlers.ofString());
        assertEquals(405, r.statusCode());
    }
}
