package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.MutableClock;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.relay.control.ControlJson;
import relaybox.relay.control.StatusSource;
import relaybox.relay.intake.Awaits;

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
import static org.junit.jupiter.api.Assertions.assertFalse;
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

    /**
     * Issue 20's drill with the real dispatcher and forwarder against a fake ESP, on a fake clock:
     * upstream down (entries show the link's next probe and "connection refused"), back with a
     * wrong password (entries show the 535, the link backs off: a bounded number of AUTH attempts
     * over ten minutes instead of one every probe interval), the ESP account fixed, and
     * {@code upstream test} clears the backoff so everything drains at once, without waiting
     * out the backoff (the fake clock does not move any more).
     */
    @Test
    void wrongPasswordBacksOffAndUpstreamTestClearsIt() throws Exception {
        relaybox.relay.forward.FakeEsp esp = new relaybox.relay.forward.FakeEsp().start();
        int port = esp.port();
        esp.stop();
        esp.authMechs = "PLAIN";
        esp.password = "right";
        Path secret = tmp.resolve("upstream.secret");
        java.nio.file.Files.writeString(secret, "username=user\npassword=wrong\n");
        java.nio.file.Files.setPosixFilePermissions(secret, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
        relaybox.relay.config.UpstreamConfig up = new relaybox.relay.config.UpstreamConfig("esp", "smtp", "127.0.0.1",
                port, relaybox.relay.config.TlsMode.NONE, null, secret, null, 100, 2, 0, List.of(), "", List.of(), List.of(),
                relaybox.relay.config.UpstreamConfig.AuthChoice.AUTO, null, 0, relaybox.relay.config.Provider.GENERIC);
        java.time.Duration t = java.time.Duration.ofSeconds(5);
        relaybox.relay.config.ForwardConfig cfg = new relaybox.relay.config.ForwardConfig(2, java.time.Duration.ofSeconds(60),
                java.time.Duration.ofSeconds(30), t, t, t, t, java.time.Duration.ofSeconds(5), "relay.test", false, 60,
                List.of(up));
        // Moved by hand, so ten minutes of probes take no ten minutes.
        MutableClock clock = new MutableClock(Instant.now());
        relaybox.queue.mapdb.MapDbQueue queue = relaybox.queue.mapdb.MapDbQueue.open(tmp.resolve("queue"), 0,
                relaybox.queue.RetrySchedule.DEFAULT, java.time.Clock.systemUTC());
        relaybox.relay.log.MailLog log = new relaybox.relay.log.MailLog(line -> { });
        relaybox.relay.forward.Dispatcher d = relaybox.relay.forward.Dispatcher.start(queue, cfg, log, clock);
        StatusSource status = new StatusSource() {
            @Override
            public Instant startedAt() {
                return Instant.now();
            }

            @Override
            public List<Listener> listeners() {
                return List.of();
            }

            @Override
            public List<Link> links() {
                return d.links().stream().map(v -> new Link(v.name(), v.up() ? "up" : v.backingOff() ? "backoff" : "down",
                        v.reason(), v.since(), v.nextProbe())).toList();
            }

            @Override
            public Throughput throughput(Instant now) {
                return new Throughput(0, 0, 0, 0);
            }
        };
        relaybox.relay.control.ControlService service = new relaybox.relay.control.ControlService(queue, status,
                new relaybox.relay.forward.UpstreamProbe(cfg)::probeAll, () -> "", log, clock);
        service.onRetry(d::probeNow);
        Path socket = tmp.resolve("control.sock");
        relaybox.relay.control.ControlServer server = new relaybox.relay.control.ControlServer(
                new relaybox.relay.config.ControlConfig(socket, ""), service);
        server.start();
        try {
            for (int i = 0; i < 5; i++) {
                AdminHarness.accept(queue, "app@corp.example", "Subject: drill " + i + "\r\n\r\nbody\r\n", "u" + i + "@x.example");
            }
            // The queue's clock is the real one: the fake one starts now, when the mail is due.
            clock.set(Instant.now().plusMillis(1));
            // The circuit opens a moment before the worker gives its entry back: wait for both.
            awaitTrue("the link goes down", () -> !d.isUp("esp")
                    && queue.counts().getOrDefault(relaybox.queue.EntryState.SENDING, 0L) == 0);

            // Down: each entry shows the link's next probe (not "now") and the connection error.
            List<JsonNode> entries = listJson(socket);
            assertEquals(5, entries.size());
            Instant probeAt = d.links().get(0).nextProbe();
            for (JsonNode e : entries) {
                assertEquals(probeAt.toString(), e.get("next").asText(), e.toString());
                assertTrue(e.get("reply").asText().contains("connection refused"), e.toString());
            }
            AdminHarness.Result r = cli(socket, "queue", "watch", "--iterations", "1");
            assertTrue(r.out().contains("waiting") && r.out().contains("upstream down since") && !r.out().contains("to go"),
                    r.toString());

            // Back, but our password is wrong: 535, and the probes back off.
            esp.start(port);
            clock.advance(java.time.Duration.ofSeconds(5));
            d.probe();
            assertFalse(d.isUp("esp"));
            for (JsonNode e : listJson(socket)) {
                assertTrue(e.get("reply").asText().startsWith("535"), e.toString());
            }
            JsonNode link = ControlJson.MAPPER.readTree(cli(socket, "status", "--json").out()).get("links").get(0);
            assertEquals("backoff", link.get("state").asText(), link.toString());
            r = cli(socket, "status");
            assertEquals(1, r.code(), r.toString());
            assertTrue(r.out().contains("refuses our configuration"), r.toString());

            // Ten minutes of the prober ticking every second: few logins, with growing gaps.
            java.time.Duration previousGap = java.time.Duration.ZERO;
            for (int s = 0; s < 600; s++) {
                clock.advance(java.time.Duration.ofSeconds(1));
                d.probe();
                java.time.Duration gap = java.time.Duration.between(clock.instant(), d.links().get(0).nextProbe());
                assertTrue(gap.compareTo(java.time.Duration.ofMinutes(15)) <= 0, gap.toString());
                previousGap = gap.compareTo(previousGap) > 0 ? gap : previousGap;
            }
            long logins = esp.count("AUTH");
            // 5 s doubling: probes at +5, +15, +35, +75, +155, +315 s (one every 5 s would be 120).
            assertTrue(logins >= 5 && logins <= 9, "AUTH attempts in 10 minutes: " + logins);
            assertTrue(previousGap.compareTo(java.time.Duration.ofMinutes(4)) > 0, "the backoff grew: " + previousGap);

            // The ESP account is fixed to what we send; upstream test shows it, clears the backoff,
            // and everything drains at once although the fake clock no longer moves.
            esp.password = "wrong";
            r = cli(socket, "upstream", "test");
            assertEquals(0, r.code(), r.toString());
            awaitTrue("the drain", () -> esp.received.size() == 5 && queue.list().isEmpty());
            assertTrue(d.isUp("esp"));
        } finally {
            server.close();
            service.close();
            d.close();
            queue.close();
            esp.close();
        }
    }

    private static void awaitTrue(String what, java.util.function.BooleanSupplier c) throws InterruptedException {
        Awaits.until(what, java.time.Duration.ofSeconds(30), c);
    }

    private AdminHarness.Result cli(Path socket, String... args) {
        List<String> all = new ArrayList<>(List.of(args));
        all.add("--socket");
        all.add(socket.toString());
        return AdminHarness.exec(tmp.resolve("none.conf"), Map.of(), "", all.toArray(String[]::new));
    }

    private List<JsonNode> listJson(Path socket) throws Exception {
        AdminHarness.Result r = cli(socket, "queue", "list", "--json");
        assertEquals(0, r.code(), r.toString());
        List<JsonNode> out = new ArrayList<>();
        for (String line : r.out().split("\n")) {
            if (!line.isBlank()) {
                out.add(ControlJson.MAPPER.readTree(line));
            }
        }
        return out;
    }
}
