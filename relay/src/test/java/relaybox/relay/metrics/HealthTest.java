package relaybox.relay.metrics;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class HealthTest {

    private final RelayMetrics metrics = new RelayMetrics();
    private final FakeHealth source = new FakeHealth();
    private MetricsServer server;

    @BeforeEach
    void start() throws Exception {
        server = MetricsServer.start(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), "/metrics",
                metrics, source);
    }

    @AfterEach
    void stop() {
        server.close();
        metrics.close();
    }

    private HttpResponse<String> healthz() throws Exception {
        return Scrape.get(server.address(), "/healthz", null);
    }

    @Test
    void allWellIsHealthy() throws Exception {
        HttpResponse<String> r = healthz();
        assertEquals(200, r.statusCode());
        assertEquals("application/json", r.headers().firstValue("Content-Type").orElse(""));
        assertEquals("{\"status\":\"healthy\",\"reasons\":[]}\n", r.body());
    }

    @Test
    void upstreamDownIsDegradedButStill200() throws Exception {
        source.links.put("esp1", LinkState.DOWN);
        source.links.put("esp2", LinkState.PROBING);
        source.links.put("esp3", LinkState.UP);
        HttpResponse<String> r = healthz();
        assertEquals(200, r.statusCode());
        assertEquals("{\"status\":\"degraded\",\"reasons\":[\"upstream esp1 down\",\"upstream esp2 probing\"]}\n",
                r.body());
    }

    @Test
    void anUpstreamThatRefusesOurLoginIsDegradedAndSaysBackoff() throws Exception {
        source.links.put("esp1", LinkState.BACKOFF);
        HttpResponse<String> r = healthz();
        assertEquals(200, r.statusCode());
        assertEquals("{\"status\":\"degraded\",\"reasons\":[\"upstream esp1 backoff\"]}\n", r.body());
    }

    @Test
    void storeThatCannotCommitIsUnhealthy() throws Exception {
        source.store = false;
        source.links.put("esp1", LinkState.DOWN);
        HttpResponse<String> r = healthz();
        assertEquals(503, r.statusCode());
        assertEquals("{\"status\":\"unhealthy\",\"reasons\":[\"store cannot commit\",\"upstream esp1 down\"]}\n",
                r.body());
    }

    @Test
    void freeSpaceBelowReserveIsUnhealthy() throws Exception {
        source.free = 100;
        source.minFree = 1000;
        HttpResponse<String> r = healthz();
        assertEquals(503, r.statusCode());
        assertEquals("{\"status\":\"unhealthy\",\"reasons\":[\"free space 100 below queue_min_free_space 1000\"]}\n",
                r.body());
    }

    @Test
    void intakeNotAcceptingIsUnhealthy() {
        source.intake = false;
        assertEquals(new Health(Health.Status.UNHEALTHY, List.of("intake not accepting")), Health.evaluate(source));
    }

    @Test
    void healthComesBackWhenTheLinkDoes() {
        source.links.put("esp1", LinkState.DOWN);
        assertEquals(Health.Status.DEGRADED, Health.evaluate(source).status());
        source.links.put("esp1", LinkState.UP);
        assertEquals(Health.Status.HEALTHY, Health.evaluate(source).status());
    }

    @Test
    void linkStatesReportedToMetricsFeedHealth() {
        metrics.linkState("esp1", LinkState.UP);
        metrics.linkState("esp1", LinkState.DOWN);
        assertEquals(Map.of("esp1", LinkState.DOWN), metrics.linkStates());
    }

    @Test
    void reasonsAreJsonEscaped() {
        assertEquals("{\"status\":\"degraded\",\"reasons\":[\"a \\\"b\\\" \\\\ \\u000a\"]}",
                new Health(Health.Status.DEGRADED, List.of("a \"b\" \\ \n")).toJson());
    }
}
