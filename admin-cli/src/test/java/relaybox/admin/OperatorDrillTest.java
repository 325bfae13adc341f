package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.relay.control.ControlJson;
import relaybox.relay.control.StatusSource;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The operator drill from issue 5, on a real MapDB queue behind a real control socket: upstream
 * down, 1,000 messages pile up, stats shows them, hold some, delete one, upstream returns, watch
 * shows the drain, held ones stay, release sends them.
 *
 * <p>Here {@link #forward} plays the dispatcher and forwarder by leasing due entries and recording
 * outcomes ("upstream down" = deferred, "up" = delivered), so every step is deterministic; the
 * same drill against the real daemon and forwarder is {@link OperatorDrillEndToEndTest}.
 */
class OperatorDrillTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    /** One dispatcher pass: lease everything due and give each recipient the same outcome. */
    private static int forward(AdminHarness h, boolean upstreamUp) {
        int n = 0;
        while (true) {
            List<QueueEntry> batch = h.queue.leaseDue(Instant.now(), 200);
            if (batch.isEmpty()) {
                return n;
            }
            for (QueueEntry e : batch) {
                Map<String, DeliveryOutcome> out = new HashMap<>();
                for (String r : e.pendingRecipients()) {
                    out.put(r, upstreamUp ? new DeliveryOutcome.Delivered("250 2.0.0 Ok: queued as ESP" + n)
                            : new DeliveryOutcome.Deferred("connect: Connection refused"));
                }
                h.queue.recordOutcome(e.id(), out, Instant.now());
                n++;
            }
        }
    }

    @Test
    void upstreamDownPileUpHoldDeleteDrainRelease() throws Exception {
        try (AdminHarness h = new AdminHarness(tmp)) {
            h.links = List.of(new StatusSource.Link("smtp.esp.example:587", "down", "connect: Connection refused",
                    Instant.now()));
            // 1,000 messages arrive while the upstream is down (accepted in parallel, as the intake would).
            ExecutorService pool = Executors.newFixedThreadPool(8);
            List<Future<QueueEntry>> accepted = new ArrayList<>();
            for (int i = 0; i < 1000; i++) {
                int k = i;
                accepted.add(pool.submit(() -> h.accept("app@corp.example", "user" + k + "@dest" + (k % 3) + ".example")));
            }
            List<QueueId> ids = new ArrayList<>();
            for (Future<QueueEntry> f : accepted) {
                ids.add(f.get().id());
            }
            pool.shutdown();
            assertEquals(1000, forward(h, false), "every message tried once and deferred");

            AdminHarness.Result r = h.run("queue", "stats", "--json");
            JsonNode s = ControlJson.MAPPER.readTree(r.out());
            assertEquals(1000, s.get("counts").get("deferred").asLong(), r.toString());
            assertEquals(1000, s.get("depth").asLong());
            assertEquals("down", s.get("links").get(0).get("state").asText());
            r = h.run("queue", "stats");
            assertTrue(r.out().contains("deferred 1000") && r.out().contains("dest0.example"), r.toString());
            r = h.run("status");
            assertEquals(1, r.code(), "degraded while the upstream is down: " + r);

            // Hold ten, delete one.
            List<String> held = ids.subList(0, 10).stream().map(QueueId::value).toList();
            List<String> holdArgs = new ArrayList<>(List.of("queue", "hold"));
            holdArgs.addAll(held);
            r = h.run(holdArgs.toArray(String[]::new));
            assertEquals(0, r.code(), r.toString());
            r = h.run("queue", "delete", ids.get(500).value());
            assertEquals(0, r.code(), r.toString());
            r = h.run("queue", "list", "--state", "held", "--json");
            assertEquals(10, r.out().lines().count(), r.toString());

            // The upstream comes back: retry now, and the forwarder drains what is not held.
            h.links = List.of(new StatusSource.Link("smtp.esp.example:587", "up", "", Instant.now()));
            AdminHarness.Result before = h.run("queue", "watch", "--iterations", "1");
            assertTrue(before.out().contains("989 of 989 left"), before.toString());
            r = h.run("queue", "retry", "--all");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.out().contains("retried 989 of 989 entries"), r.toString());
            assertEquals(989, forward(h, true));
            AdminHarness.Result after = h.run("queue", "watch", "--iterations", "1");
            assertTrue(after.out().contains("drain [") && after.out().contains("0 of 0 left")
                    && after.out().contains("10 held (not drained)"), after.toString());
            r = h.run("status");
            assertEquals(0, r.code(), r.toString());

            // Held ones stayed; release sends them.
            assertEquals(10, h.queue.counts().get(EntryState.HELD));
            assertEquals(10, h.queue.list().size());
            r = h.run("queue", "release", "--all");
            assertEquals(0, r.code(), r.toString());
            assertEquals(10, forward(h, true));
            assertTrue(h.queue.list().isEmpty(), "queue drained: " + h.queue.list().size());
            r = h.run("queue", "list");
            assertTrue(r.out().contains("the queue is empty"), r.toString());
        }
    }
}
