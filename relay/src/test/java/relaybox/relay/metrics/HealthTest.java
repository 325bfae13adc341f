package relaybox.relay.metrics;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import relaybox.queue.CrossCheckProgress;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.http.HttpResponse;
import java.time.Instant;
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

    /**
     * A cross-check after an unclean stop that runs is healthy (mail flows meanwhile); one that
     * failed is degraded, and says why: no spool segment is reclaimed until the next start.
     */
    @Test
    void aRunningCrossCheckIsHealthyAndAFailedOneDegraded() throws Exception {
        Instant t = Instant.parse("2026-12-06T04:00:00Z");
        source.crossCheck = CrossCheckProgress.started(24, t).scanned(3);
        assertEquals("{\"status\":\"healthy\",\"reasons\":[]}\n", healthz().body());
        source.crossCheck = source.crossCheck.failed("java.io.IOException: Input/output error; no spool segment is"
                + " deleted until the next start, which checks again", t.plusSeconds(90));
        HttpResponse<String> r = healthz();
        assertEquals(200, r.statusCode());
        assertEquals("{\"status\":\"degraded\",\"reasons\":[\"queue cross-check failed: java.io.IOException:"
                + " Input/output error; no spool segment is deleted until the next start, which checks again\"]}\n",
                r.body());
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
    void aPausedUpstreamIsDegradedAndSaysByWhatAndUntilWhen() throws Exception {
        source.links.put("esp1", LinkState.PAUSED);
        source.pauses.put("esp1", "quota, until 2026-12-06T10:00:00Z: 550 5.4.5 Daily SMTP relay limit exceeded");
        HttpResponse<String> r = healthz();
        assertEquals(200, r.statusCode());
        assertEquals("{\"status\":\"degraded\",\"reasons\":[\"upstream esp1 paused (quota, until "
                + "2026-12-06T10:00:00Z: 550 5.4.5 Daily SMTP relay limit exceeded)\"]}\n", r.body());
    }

    @Test
    void pausesReportedToMetricsFeedHealthAndTheGauge() throws Exception {
        metrics.linkState("esp1", LinkState.PAUSED);
        metrics.upstreamPaused("esp1", "operator, until resumed: paused by uid 0");
        assertEquals(Map.of("esp1", "operator, until resumed: paused by uid 0"), metrics.pauseDetails());
        String scraped = Scrape.get(server.address(), "/metrics", null).body();
        assertEquals(true, scraped.contains("relaybox_upstream_paused{upstream=\"esp1\"} 1.0"), scraped);
        assertEquals(true, scraped.contains("relaybox_upstream_link_state{state=\"paused\",upstream=\"esp1\"} 1.0"),
                scraped);
        metrics.upstreamPaused("esp1", null);
        assertEquals(Map.of(), metrics.pauseDetails());
        scraped = Scrape.get(server.address(), "/metrics", null).body();
        assertEquals(true, scraped.contains("relaybox_upstream_paused{upstream=\"esp1\"} 0.0"), scraped);
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
