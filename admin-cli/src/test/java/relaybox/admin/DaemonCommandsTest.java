package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.QueueEntry;
import relaybox.relay.control.ControlJson;
import relaybox.relay.control.StatusSource;
import relaybox.relay.forward.UpstreamTester;

import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** status, config, upstream test, help, offline mode and an unreachable daemon. */
class DaemonCommandsTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;
    @AutoClose
    AdminHarness h;

    @BeforeEach
    void start() throws Exception {
        h = new AdminHarness(tmp);
    }

    @Test
    void statusIsZeroWhenHealthyAndOneWhenALinkIsDown() throws Exception {
        h.accept("app@corp.example", "a@x.example");
        AdminHarness.Result r = h.run("status");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("relaybox daemon is up"), r.toString());
        assertTrue(r.out().contains("listening: intake 127.0.0.1:2525"), r.toString());
        assertTrue(r.out().contains("queue: healthy, depth 1"), r.toString());
        assertTrue(r.out().contains("status: ok"), r.toString());

        h.links = List.of(new StatusSource.Link("smtp.esp.example:587", "down", "connect: Connection refused",
                Instant.now()));
        r = h.run("status");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.out().contains("DEGRADED: upstream smtp.esp.example:587 is down"), r.toString());
        r = h.run("status", "--json");
        JsonNode s = ControlJson.MAPPER.readTree(r.out());
        assertEquals("down", s.get("links").get(0).get("state").asText());
        assertEquals(1, s.get("depth").asLong());
    }

    @Test
    void daemonDownIsExitThree() throws Exception {
        AdminHarness.Result r = h.run("status", "--socket", tmp.resolve("nothing.sock").toString());
        assertEquals(3, r.code(), r.toString());
        assertTrue(r.err().contains("not reachable") && r.err().contains("is it running?"), r.toString());

        // A socket file left behind by a crashed daemon: connection refused.
        Path stale = tmp.resolve("stale.sock");
        ServerSocketChannel ch = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        ch.bind(UnixDomainSocketAddress.of(stale));
        ch.close();
        assertTrue(Files.exists(stale));
        for (String[] cmd : List.of(new String[]{"queue", "list"}, new String[]{"queue", "stats"},
                new String[]{"queue", "hold", "--all"}, new String[]{"config", "show"}, new String[]{"upstream", "test"},
                new String[]{"queue", "watch", "--iterations", "1"})) {
            List<String> args = new java.util.ArrayList<>(List.of(cmd));
            args.add("--socket");
            args.add(stale.toString());
            r = h.runRaw("", args.toArray(String[]::new));
            assertEquals(3, r.code(), String.join(" ", cmd) + ": " + r);
        }
    }

    @Test
    void socketComesFromEnvironmentOrConfigFile() throws Exception {
        AdminHarness.Result r = AdminHarness.exec(tmp.resolve("none.conf"),
                Map.of(ClientOptions.SOCKET_ENV, h.socket.toString()), "", "status");
        assertEquals(0, r.code(), r.toString());
        Path conf = tmp.resolve("relaybox.conf");
        Files.writeString(conf, "control_socket = \"" + h.socket + "\"\n");
        r = AdminHarness.exec(conf, Map.of(), "", "status");
        assertEquals(0, r.code(), "from the default config file: " + r);
        r = AdminHarness.exec(tmp.resolve("none.conf"), Map.of(), "", "status", "--config", conf.toString());
        assertEquals(0, r.code(), "from --config: " + r);
        Files.writeString(conf, "control_socket = 42\n");
        r = AdminHarness.exec(conf, Map.of(), "", "status");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("control_socket"), r.toString());
    }

    @Test
    void configCheckValidatesAFileAndConfigShowAsksTheDaemon() throws Exception {
        Path good = tmp.resolve("good.conf");
        Files.writeString(good, "queue_dir = \"/var/lib/relaybox\"\ncontrol_group = \"mail\"\n\n[[upstream]]\n"
                + "type = \"outbox\"\ndir = \"/tmp/outbox\"\n");
        AdminHarness.Result r = h.run("config", "check", good.toString());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains(good + ": ok"), r.toString());
        Path bad = tmp.resolve("bad.conf");
        Files.writeString(bad, "queue_dri = \"/var/lib/relaybox\"\n\n[[upstream]]\ntype = \"outbox\"\n"
                + "dir = \"/tmp/outbox\"\n");
        r = h.run("config", "check", bad.toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("queue_dri: unknown key"), r.toString());
        r = h.run("config", "check", Path.of("..", "etc", "relaybox.conf").toString());
        assertEquals(0, r.code(), "the shipped file: " + r);

        r = h.run("config", "show", "--socket", h.socket.toString());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("forward_password_file = \"(masked)\""), r.toString());
    }

    @Test
    void upstreamTestPrintsEveryStepAndFailsOnAFailedStep() {
        h.probes = List.of(new UpstreamTester.Probe("smtp.esp.example:587", List.of(
                new UpstreamTester.Step("connect", true, "203.0.113.7:587", 12),
                new UpstreamTester.Step("starttls", true, "TLSv1.3", 30),
                new UpstreamTester.Step("certificate", true, "CN=smtp.esp.example", 1),
                new UpstreamTester.Step("auth", true, "235 2.7.0 Authentication successful", 40))));
        AdminHarness.Result r = h.run("upstream", "test");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("upstream smtp.esp.example:587:"), r.toString());
        assertTrue(r.out().matches("(?s).*auth\\s+ok\\s+40ms\\s+235 2.7.0 Authentication successful.*"), r.toString());

        h.probes = List.of(new UpstreamTester.Probe("smtp.esp.example:587", List.of(
                new UpstreamTester.Step("connect", true, "203.0.113.7:587", 12),
                new UpstreamTester.Step("auth", false, "535 5.7.8 Authentication credentials invalid", 40))));
        r = h.run("upstream", "test");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.out().contains("FAILED"), r.toString());
        r = h.run("upstream", "test", "--json");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.out().contains("\"upstream\":\"smtp.esp.example:587\""), r.toString());
    }

    @Test
    void helpDocumentsExitCodesEverywhere() {
        for (String[] cmd : List.of(new String[]{"--help"}, new String[]{"queue", "list", "--help"},
                new String[]{"queue", "hold", "--help"}, new String[]{"status", "--help"},
                new String[]{"config", "check", "--help"}, new String[]{"upstream", "test", "--help"})) {
            AdminHarness.Result r = h.runRaw("", cmd);
            assertEquals(0, r.code(), String.join(" ", cmd) + ": " + r);
            assertTrue(r.out().contains("Exit codes:") && r.out().contains("daemon unreachable"),
                    String.join(" ", cmd) + ": " + r);
        }
        AdminHarness.Result r = h.runRaw("", "--help");
        for (String sub : List.of("run", "queue", "status", "config", "upstream", "sendmail", "dkim")) {
            assertTrue(r.out().contains("  " + sub), "missing " + sub + " in " + r);
        }
        r = h.runRaw("", "sendmail", "--help");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("75 temporary refusal or no room in the drop directory"), r.toString());
    }

    @Test
    void offlineRefusesWhileTheStoreIsOpenAndReadsItWhenClosed() throws Exception {
        QueueEntry a = h.accept("app@corp.example", "a@x.example");
        Path qdir = tmp.resolve("queue");
        AdminHarness.Result r = h.runRaw("", "queue", "list", "--offline", "--queue-dir", qdir.toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("daemon is running") && r.err().contains("Drop --offline"), r.toString());

        h.close();
        r = h.runRaw("", "queue", "list", "--offline", "--queue-dir", qdir.toString(), "--json");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("\"id\":\"" + a.id() + "\""), r.toString());
        r = h.runRaw("", "queue", "show", a.id().value(), "--offline", "--queue-dir", qdir.toString());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("id: " + a.id()), r.toString());
        r = h.runRaw("", "queue", "show", a.id().value(), "--offline", "--queue-dir", qdir.toString(), "--raw");
        assertEquals("Received: by test\r\nSubject: test\r\n\r\nbody\r\n", r.out(), r.toString());
        r = h.runRaw("", "queue", "list", "--offline", "--queue-dir", tmp.resolve("elsewhere").toString());
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("no queue store"), r.toString());
    }

    @Test
    void offlineAsRootGivesTheStoreBackToItsOwner() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "only root can open a store owned by another user");
        h.accept("app@corp.example", "a@x.example");
        h.close();
        Path qdir = tmp.resolve("queue");
        java.nio.file.attribute.UserPrincipal nobody = qdir.getFileSystem().getUserPrincipalLookupService()
                .lookupPrincipalByName("nobody");
        try (java.util.stream.Stream<Path> s = Files.walk(qdir)) {
            for (Path p : s.toList()) {
                Files.setOwner(p, nobody);
            }
        }
        // Stands for a file the store writes while root has it open (a WAL, a new spool segment);
        // MapDB 3.1 left none behind in this scenario, but a recovery can.
        Files.writeString(qdir.resolve("written-by-root"), "x");
        AdminHarness.Result r = h.runRaw("", "queue", "list", "--offline", "--queue-dir", qdir.toString());
        assertEquals(0, r.code(), r.toString());
        try (java.util.stream.Stream<Path> s = Files.walk(qdir)) {
            for (Path p : s.toList()) {
                assertEquals(nobody, Files.getOwner(p), p + " must stay the service user's");
            }
        }
    }
}
