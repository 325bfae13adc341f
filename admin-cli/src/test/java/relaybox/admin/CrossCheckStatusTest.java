package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.MutableClock;
import relaybox.queue.mapdb.UncleanStops;
import relaybox.relay.control.ControlJson;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code relaybox status} over a real control socket and a real store opened after a kill, with
 * one acknowledged entry lost from the index: the queue's background cross-check is shown with
 * its phase and figures while it runs (held at the queue's test gates) and once it is done, and
 * a running check is not a degraded daemon.
 */
class CrossCheckStatusTest {

    @TempDir
    Path tmp;

    @Test
    void statusShowsTheCrossCheckWhileItRunsAndOnceItIsDone() throws Exception {
        Path queueDir = tmp.resolve("queue");
        UncleanStops.lostAfterAKill(queueDir, new MutableClock());
        try (UncleanStops.Gates gates = UncleanStops.hold(queueDir); AdminHarness h = new AdminHarness(tmp)) {
            JsonNode c = crossCheck(h);
            assertEquals("rescue", c.get("phase").asText(), c.toString());
            assertEquals(0, c.get("segments_scanned").asInt(), c.toString());
            assertTrue(c.get("segments").asInt() >= 1, c.toString());
            assertTrue(c.get("started_at").isTextual(), c.toString());
            assertTrue(c.get("finished_at").isNull(), c.toString());
            AdminHarness.Result r = h.run("status");
            assertEquals(0, r.code(), "a running check is not degraded: " + r);
            assertTrue(r.out().contains("queue cross-check after an unclean stop: rescue phase, running for"), r.toString());
            assertTrue(r.out().contains("spool segments are kept until it ends"), r.toString());

            gates.releaseStart();
            c = awaitPhase(h, "audit");
            assertEquals(c.get("segments").asInt(), c.get("segments_scanned").asInt(), c.toString());
            assertEquals(1, c.get("entries_rescued").asInt(), c.toString());
            r = h.run("status");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("audit phase"), r.toString());
            assertTrue(r.out().contains("1 queued again from the spool"), r.toString());

            gates.releaseAudit();
            c = awaitPhase(h, "done");
            assertEquals(3, c.get("entries_audited").asInt(), c.toString());
            assertEquals(1, c.get("entries_rescued").asInt(), c.toString());
            assertEquals(2, c.get("repairs").asInt(), c.toString());
            assertTrue(c.get("finished_at").isTextual(), c.toString());
            assertEquals("", c.get("failure").asText());
            r = h.run("status");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("queue cross-check after an unclean stop: done in"), r.toString());
            assertTrue(r.out().contains("3 entries audited, 1 queued again from the spool, 2 index repairs"),
                    r.toString());
            assertTrue(r.out().contains("status: ok"), r.toString());
        }
    }

    @Test
    void aStoreStoppedCleanlyShowsNoCheck() throws Exception {
        try (AdminHarness h = new AdminHarness(tmp)) {
            assertEquals("none", crossCheck(h).get("phase").asText());
            AdminHarness.Result r = h.run("status");
            assertTrue(!r.out().contains("cross-check"), r.toString());
        }
    }

    private static JsonNode crossCheck(AdminHarness h) throws Exception {
        AdminHarness.Result r = h.run("status", "--json");
        assertEquals(0, r.code(), r.toString());
        return ControlJson.MAPPER.readTree(r.out()).get("cross_check");
    }

    private static JsonNode awaitPhase(AdminHarness h, String phase) throws Exception {
        long deadline = System.nanoTime() + 60_000_000_000L;
        JsonNode c = crossCheck(h);
        while (!phase.equals(c.get("phase").asText()) && System.nanoTime() < deadline) {
            Thread.sleep(20);
            c = crossCheck(h);
        }
        assertEquals(phase, c.get("phase").asText(), c.toString());
        return c;
    }
}
