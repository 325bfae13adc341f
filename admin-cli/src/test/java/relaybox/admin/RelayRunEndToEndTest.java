package relaybox.admin;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.intake.Awaits;
import relaybox.relay.reliability.DaemonProcess;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real daemon ({@code relaybox run --config FILE}) in a child JVM, with an outbox upstream:
 * sendmail submits through its intake, the admin commands reach it over its control socket, and
 * after SIGTERM status says unreachable (3) and sendmail says tempfail (75).
 */
class RelayRunEndToEndTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;
    DaemonProcess daemon;

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    private AdminHarness.Result relaybox(String stdin, String... args) {
        return AdminHarness.client(tmp.resolve("control.sock"), stdin, args);
    }

    @Test
    void sendmailAndAdminCommandsAgainstTheRunningDaemon() throws Exception {
        Path conf = tmp.resolve("relaybox.conf");
        Files.writeString(conf, """
                intake_listen = ["127.0.0.1:0"]
                queue_dir = "%1$s/queue"
                queue_min_free_space = 0
                control_socket = "%1$s/control.sock"
                control_group = ""

                [[upstream]]
                name = "outbox"
                type = "outbox"
                dir = "%1$s/outbox"
                """.formatted(tmp));
        AdminHarness.Result r = relaybox("", "config", "check", conf.toString());
        assertEquals(0, r.code(), r.toString());

        daemon = new DaemonProcess(DaemonProcess.RELAYBOX_CLI, conf, tmp.resolve("daemon.log"), 0, List.of());
        daemon.spawn();
        Awaits.until("the daemon's control socket", Duration.ofSeconds(60),
                () -> !daemon.alive() || relaybox("", "status").code() == 0);
        assertTrue(daemon.alive(), "daemon exited: " + daemon.currentLog());

        r = relaybox("", "status", "--json");
        assertEquals(0, r.code(), r.toString());
        String intake = AdminHarness.listener(tmp.resolve("control.sock"), "intake");
        assertTrue(!intake.endsWith(":0"), r.toString());

        // PHP's mail(): sendmail -t -i with LF-only text and a Bcc.
        r = relaybox("To: Alice <alice@x.example>\nBcc: hidden@y.example\nSubject: end to end\n\nhello\n.\nbye\n",
                "sendmail", "--smtp", intake, "-t", "-i", "-f", "www@corp.example");
        assertEquals(0, r.code(), r.toString());
        Path outbox = tmp.resolve("outbox");
        Awaits.until("delivery to the outbox", Duration.ofSeconds(30), () -> count(outbox) >= 1);
        String delivered = Files.readString(files(outbox).get(0));
        assertTrue(delivered.contains("Subject: end to end") && delivered.contains("\r\nhello\r\n.\r\nbye\r\n"),
                delivered);
        assertTrue(!delivered.contains("Bcc:"), delivered);

        r = relaybox("", "queue", "stats", "--json");
        assertEquals(0, r.code(), r.toString());
        r = relaybox("", "queue", "list");
        assertEquals(0, r.code(), r.toString());
        r = relaybox("", "queue", "show", "0000000000ZZ");
        assertEquals(1, r.code(), r.toString());
        r = relaybox("", "config", "show");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("outbox"), r.toString());

        r = relaybox("", "upstream", "test");
        assertTrue(r.code() == 0 || r.code() == 1, r.toString());
        assertTrue(r.out().contains("upstream outbox"), "the daemon's probe answered: " + r);

        daemon.stop(Duration.ofSeconds(60)); // SIGTERM; throws when the daemon does not stop
        r = relaybox("", "status");
        assertEquals(3, r.code(), r.toString());
        r = relaybox("Subject: x\n\nbody\n", "sendmail", "--smtp", intake, "a@x.example");
        assertEquals(75, r.code(), r.toString());
        assertTrue(r.err().contains("NOT queued"), r.toString());
        r = relaybox("", "queue", "list", "--offline", "--queue-dir", tmp.resolve("queue").toString());
        assertEquals(0, r.code(), "offline works once the daemon is stopped: " + r);
    }

    private static long count(Path dir) {
        return files(dir).size();
    }

    private static List<Path> files(Path dir) {
        if (!Files.isDirectory(dir)) {
            return List.of();
        }
        try (Stream<Path> s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().endsWith(".eml")).sorted().toList();
        } catch (java.io.IOException e) {
            return List.of();
        }
    }
}
