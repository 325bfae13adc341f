package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.relay.control.ControlJson;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Every queue subcommand against a real control server over a real MapDB queue, success and error paths. */
class QueueCommandsTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;
    @AutoClose
    AdminHarness h;

    @BeforeEach
    void start() throws Exception {
        h = new AdminHarness(tmp);
    }

    private static List<JsonNode> jsonLines(String out) throws Exception {
        List<JsonNode> l = new java.util.ArrayList<>();
        for (String line : out.split("\n")) {
            if (!line.isBlank()) {
                l.add(ControlJson.MAPPER.readTree(line));
            }
        }
        return l;
    }

    @Test
    void listPrintsAnAlignedTableAndJsonLines() throws Exception {
        QueueEntry a = h.accept("app@corp.example", "a@x.example", "b@y.example");
        QueueEntry b = h.accept("cron@corp.example", "c@z.example");
        AdminHarness.Result r = h.run("queue", "list");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().startsWith("ID"), r.toString());
        assertTrue(r.out().contains(a.id().value()) && r.out().contains(b.id().value()), r.toString());
        assertTrue(r.out().contains("<app@corp.example>") && r.out().contains("a@x.example,b@y.example"), r.toString());
        assertTrue(r.out().contains("-- 2 entries"), r.toString());

        r = h.run("queue", "list", "--json");
        assertEquals(0, r.code(), r.toString());
        List<JsonNode> lines = jsonLines(r.out());
        assertEquals(2, lines.size(), r.toString());
        JsonNode first = lines.get(0);
        for (String field : List.of("id", "state", "queued_at", "age", "size", "attempts", "next", "from", "to", "reply")) {
            assertTrue(first.has(field), "missing " + field + " in " + first);
        }
        assertEquals(a.id().value(), first.get("id").asText());
        assertEquals("queued", first.get("state").asText());
        assertEquals("app@corp.example", first.get("from").asText());
        assertEquals(2, first.get("to").size());
    }

    @Test
    void listFiltersByStateSenderRecipientAndAge() throws Exception {
        QueueEntry a = h.accept("app@corp.example", "a@x.example");
        QueueEntry b = h.accept("cron@corp.example", "c@z.example");
        h.queue.hold(b.id());
        assertEquals(List.of(b.id().value()), ids(h.run("queue", "list", "--json", "--state", "held")));
        assertEquals(List.of(a.id().value()), ids(h.run("queue", "list", "--json", "--sender", "APP@")));
        assertEquals(List.of(b.id().value()), ids(h.run("queue", "list", "--json", "--recipient", "z.example")));
        assertEquals(List.of(), ids(h.run("queue", "list", "--json", "--older-than", "1h")));
        AdminHarness.Result none = h.run("queue", "list", "--state", "failed");
        assertEquals(0, none.code(), none.toString());
        assertTrue(none.out().contains("no entries match"), none.toString());

        AdminHarness.Result bad = h.run("queue", "list", "--older-than", "soon");
        assertEquals(2, bad.code(), bad.toString());
        assertTrue(bad.err().contains("older-than"), bad.toString());
        assertEquals(2, h.run("queue", "list", "--state", "lost").code());
    }

    private static List<String> ids(AdminHarness.Result r) throws Exception {
        assertEquals(0, r.code(), r.toString());
        return jsonLines(r.out()).stream().map(n -> n.get("id").asText()).toList();
    }

    @Test
    void showPrintsTheRecordTheHeadersAndTheRawMessage() throws Exception {
        QueueEntry a = h.accept("app@corp.example", "a@x.example");
        AdminHarness.Result r = h.run("queue", "show", a.id().value().toLowerCase());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("id: " + a.id()), r.toString());
        assertTrue(r.out().contains("to: <a@x.example> pending attempts=0"), r.toString());
        assertTrue(r.out().contains("  Received: by test") && r.out().contains("  Subject: test"), r.toString());

        r = h.run("queue", "show", a.id().value(), "--raw");
        assertEquals(0, r.code(), r.toString());
        assertEquals("Received: by test\r\nSubject: test\r\n\r\nbody\r\n", r.out());

        r = h.run("queue", "show", a.id().value(), "--json");
        assertEquals(a.id().value(), ControlJson.MAPPER.readTree(r.out()).get("id").asText());
        assertTrue(ControlJson.MAPPER.readTree(r.out()).get("headers").asText().contains("Subject: test"));
    }

    @Test
    void unknownIdIsExitOneAndMalformedIdIsExitTwo() {
        AdminHarness.Result r = h.run("queue", "show", "0000000000ZZ");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains("no entry 0000000000ZZ"), r.toString());
        assertEquals(1, h.run("queue", "show", "0000000000ZZ", "--raw").code());
        r = h.run("queue", "show", "not-an-id");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("not a queue id"), r.toString());
        assertEquals(1, h.run("queue", "hold", "0000000000ZZ").code());
    }

    @Test
    void holdReleaseRetryAndDeleteByIdAndAll() throws Exception {
        QueueEntry a = h.accept("app@corp.example", "a@x.example");
        QueueEntry b = h.accept("app@corp.example", "b@x.example");
        AdminHarness.Result r = h.run("queue", "hold", a.id().value(), "0000000000ZZ");
        assertEquals(1, r.code(), "one id unknown: " + r);
        assertTrue(r.out().contains(a.id() + " held") && r.out().contains("0000000000ZZ not found"), r.toString());
        assertEquals(EntryState.HELD, h.queue.get(a.id()).orElseThrow().state());
        assertTrue(h.lines.contains(a.id() + " queue held"), h.lines.toString());
        // Repeated actions are idempotent: exit 0 and a clear word, not an error.
        r = h.run("queue", "hold", a.id().value());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains(a.id() + " already held: nothing to do"), r.toString());
        r = h.run("queue", "release", b.id().value());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains(b.id() + " already released (not held)"), r.toString());
        assertEquals("already", jsonLines(h.run("queue", "hold", a.id().value(), "--json").out()).get(0)
                .get("result").asText());

        r = h.run("queue", "hold", "--all");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("held 1 of 1 entry"), r.toString());
        r = h.run("queue", "release", "--all", "--json");
        assertEquals(0, r.code(), r.toString());
        assertEquals(2, jsonLines(r.out()).size(), r.toString());
        assertEquals("released", "released");
        assertEquals("done", jsonLines(r.out()).get(0).get("result").asText());
        r = h.run("queue", "release", "--all");
        assertEquals(1, r.code(), "nothing held any more: " + r);

        r = h.run("queue", "retry", b.id().value());
        assertEquals(0, r.code(), r.toString());
        r = h.run("queue", "retry", "--all");
        assertEquals(0, r.code(), r.toString());
        assertEquals("retried 2 of 2 entries", r.out().strip(), "a flush prints the count, like postqueue -f: " + r);
        r = h.run("queue", "retry", "--all", "--json");
        assertEquals(2, jsonLines(r.out()).size(), r.toString());
        r = h.run("queue", "delete", b.id().value());
        assertEquals(0, r.code(), r.toString());
        assertTrue(h.queue.get(b.id()).isEmpty());
        assertTrue(h.lines.contains(b.id() + " queue deleted"), h.lines.toString());
        r = h.run("queue", "delete", "--all");
        assertEquals(0, r.code(), r.toString());
        assertTrue(h.queue.list().isEmpty());
    }

    @Test
    void requeueAndDeleteFailed() throws Exception {
        QueueEntry a = h.accept("app@corp.example", "a@x.example");
        h.queue.leaseDue(Instant.now().plusSeconds(1), 10);
        h.queue.recordOutcome(a.id(), Map.of("a@x.example", new DeliveryOutcome.Failed("550 5.1.1 No such user")),
                Instant.now());
        AdminHarness.Result r = h.run("queue", "list");
        assertTrue(r.out().contains("failed") && r.out().contains("550 5.1.1 No such user"), r.toString());
        r = h.run("queue", "requeue", "--failed");
        assertEquals(0, r.code(), r.toString());
        assertEquals(EntryState.QUEUED, h.queue.get(a.id()).orElseThrow().state());
        assertEquals(1, h.run("queue", "requeue", "--failed").code(), "nothing failed any more");
        assertEquals(1, h.run("queue", "delete", "--failed").code());
    }

    @Test
    void listPagesWithLimitAndAfter() throws Exception {
        List<String> ids = new java.util.ArrayList<>();
        for (int i = 0; i < 5; i++) {
            ids.add(h.accept("app@corp.example", "r" + i + "@x.example").id().value());
        }
        AdminHarness.Result r = h.run("queue", "list", "--limit", "2");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains(ids.get(0)) && r.out().contains(ids.get(1)) && !r.out().contains(ids.get(2)),
                r.toString());
        assertTrue(r.out().contains("-- 2 entries") && r.out().contains("more: --after " + ids.get(1)), r.toString());
        r = h.run("queue", "list", "--json", "--limit", "2", "--after", ids.get(1));
        assertEquals(List.of(ids.get(2), ids.get(3)), jsonLines(r.out()).stream().map(n -> n.get("id").asText()).toList());
        r = h.run("queue", "list", "--limit", "2", "--after", ids.get(3));
        assertTrue(r.out().contains(ids.get(4)) && r.out().contains("-- 1 entry") && !r.out().contains("more:"),
                r.toString());
        r = h.run("queue", "list", "--after", ids.get(4));
        assertTrue(r.out().contains("no entries match"), r.toString());
        assertEquals(2, h.run("queue", "list", "--after", "not-an-id").code());
    }

    @Test
    void purgeDeletesFailedEntriesOlderThanAsked() throws Exception {
        QueueEntry failed = h.accept("app@corp.example", "a@x.example");
        QueueEntry kept = h.accept("app@corp.example", "b@x.example");
        h.queue.leaseDue(Instant.now().plusSeconds(1), 1);
        h.queue.recordOutcome(failed.id(), Map.of("a@x.example", new DeliveryOutcome.Failed("550 5.1.1 No such user")),
                Instant.now());
        AdminHarness.Result r = h.run("queue", "purge", "--failed", "--older-than", "1h");
        assertEquals(1, r.code(), "nothing failed an hour ago: " + r);
        assertTrue(h.queue.get(failed.id()).isPresent());
        r = h.run("queue", "purge", "--failed");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("purged 1 failed entry"), r.toString());
        assertTrue(h.queue.get(failed.id()).isEmpty());
        assertTrue(h.queue.get(kept.id()).isPresent(), "only failed entries are purged");
        assertTrue(h.lines.stream().anyMatch(l -> l.startsWith(failed.id() + " queue purged reason=")), h.lines.toString());
        assertEquals(2, h.run("queue", "purge").code(), "purge needs --failed");
        assertEquals(2, h.run("queue", "purge", "--failed", "--older-than", "soon").code());
    }

    @Test
    void badArgumentsAreExitTwo() {
        assertEquals(2, h.run("queue", "list", "--bogus").code());
        assertEquals(2, h.run("queue", "show").code());
        assertEquals(2, h.run("queue", "hold").code(), "neither ids nor --all");
        AdminHarness.Result r = h.run("queue", "hold", "--all", "0000000000ZZ");
        assertEquals(2, r.code(), r.toString());
        assertEquals(2, h.run("queue", "delete", "--all", "--failed").code());
        assertEquals(2, h.run("queue", "requeue", "--all").code(), "requeue takes --failed");
        assertEquals(2, h.run("queue").code());
        assertEquals(2, h.runRaw("", "frobnicate").code());
    }

    @Test
    void statsShowsCountsHistogramOldestThroughputAndLinks() throws Exception {
        QueueEntry a = h.accept("app@corp.example", "a@x.example", "b@y.example");
        h.accept("app@corp.example", "c@x.example");
        h.queue.hold(a.id());
        AdminHarness.Result r = h.run("queue", "stats");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("queue: 2 entries, depth 1"), r.toString());
        assertTrue(r.out().contains("held 1") && r.out().contains("queued 1"), r.toString());
        assertTrue(r.out().contains("oldest: " + a.id()), r.toString());
        assertTrue(r.out().contains("accepted: 1 last minute, 2 last hour"), r.toString());
        assertTrue(r.out().contains("delivered: 3 last minute, 4 last hour"), r.toString());
        assertTrue(r.out().contains("upstream smtp.esp.example:587: up"), r.toString());
        assertTrue(r.out().matches("(?s).*age \\(min\\)\\s+T\\s+5m\\s+10m.*1280m\\+.*"), r.toString());
        assertTrue(r.out().matches("(?s).*\\nTOTAL\\s+2\\s+2\\s+0.*"), r.toString());
        assertTrue(r.out().matches("(?s).*\\nx\\.example\\s+2\\s+2.*"), "x.example has 2 pending recipients: " + r);

        r = h.run("queue", "stats", "--json");
        JsonNode s = ControlJson.MAPPER.readTree(r.out());
        assertEquals(1, s.get("counts").get("held").asLong());
        assertEquals(2, s.get("total").asLong());
        assertEquals(10, s.get("histogram").get("buckets").size());
    }

    @Test
    void watchRedrawsWithAProgressBar() throws Exception {
        h.accept("app@corp.example", "a@x.example");
        AdminHarness.Result r = h.run("queue", "watch", "--iterations", "2", "--interval", "0.01");
        assertEquals(0, r.code(), r.toString());
        assertEquals(2, r.out().split(java.util.regex.Pattern.quote(WatchCommand.CLEAR), -1).length - 1, r.toString());
        assertTrue(r.out().contains("drain [") && r.out().contains("1 of 1 left"), r.toString());
    }

    @Test
    void progressBarCountsTheDrainAgainstTheDeepestBacklog() {
        assertTrue(WatchCommand.bar(1000, 250, 50, 10).startsWith("drain [" + "#".repeat(30) + ".".repeat(10)
                + "] 75%  250 of 1000 left, 50/min, about 5m to go; 10 held"), WatchCommand.bar(1000, 250, 50, 10));
        assertTrue(WatchCommand.bar(0, 0, 0, 0).contains("100%"));
    }

    @Test
    void rawMessageIsStreamedByteForByte() throws Exception {
        byte[] big = new byte[3 << 20];
        for (int i = 0; i < big.length; i++) {
            big[i] = (byte) ('a' + i % 26);
        }
        String msg = "Subject: big\r\n\r\n" + new String(big, StandardCharsets.US_ASCII) + "\r\n";
        QueueEntry e = AdminHarness.accept(h.queue, "app@corp.example", msg, "a@x.example");
        AdminHarness.Result r = h.run("queue", "show", e.id().value(), "--raw");
        assertEquals(0, r.code());
        assertEquals("Received: by test\r\n" + msg, r.out());
        assertFalse(r.out().isEmpty());
    }
}
