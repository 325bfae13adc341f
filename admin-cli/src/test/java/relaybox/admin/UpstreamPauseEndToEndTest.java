package relaybox.admin;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.forward.FakeEsp;
import relaybox.relay.reliability.DaemonProcess;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Pauses through the real daemon (a child JVM) and the real CLI: a Google-like upstream answers
 * its daily quota with {@code 550 5.4.5}; the mail is not bounced, the upstream is paused (status,
 * /healthz, the metrics and the log say so) and the mail goes to the failover upstream. Then an
 * operator resumes it, pauses it, the pause survives a kill -9, and a pause with --for ends by
 * itself.
 */
class UpstreamPauseEndToEndTest {

    private static final Duration WAIT = Duration.ofSeconds(60);
    private static final String QUOTA = "550 5.4.5 Daily SMTP relay limit exceeded for user. To learn more visit "
            + "https://support.google.com/a/answer/3726730";

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;
    DaemonProcess daemon;
    FakeEsp google;
    FakeEsp backup;
    int sent;

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
        for (FakeEsp e : new FakeEsp[] {google, backup}) {
            if (e != null) {
                e.close();
            }
        }
    }

    @Test
    void aQuotaPausesInsteadOfBouncingAndOperatorsPauseAndResumeAcrossRestarts() throws Exception {
        google = new FakeEsp();
        google.reply("MAIL", QUOTA, 1000);
        google.start();
        backup = new FakeEsp().start();
        Path conf = tmp.resolve("relaybox.conf");
        Files.writeString(conf, """
                intake_listen = ["127.0.0.1:0"]
                queue_dir = "%1$s/queue"
                queue_min_free_space = 0
                control_socket = "%1$s/control.sock"
                control_group = ""
                metrics_listen = "127.0.0.1:0"
                forward_probe_interval = "200ms"

                [[upstream]]
                name = "google"
                host = "127.0.0.1"
                port = %2$d
                tls = "none"

                [[upstream]]
                name = "backup"
                host = "127.0.0.1"
                port = %3$d
                tls = "none"
                """.formatted(tmp, google.port(), backup.port()));
        start(conf);

        // The quota: the message is not failed, it goes to the failover upstream, and google pauses.
        send(2);
        await("delivered through the failover upstream", () -> backup.received.size() == 2);
        String log = log();
        assertFalse(log.contains(" forward failed "), "never a bounce:\n" + log);
        assertEquals(1, count(log, "- forward paused name=google cause=quota until="), log);
        assertTrue(log.contains("reason=\"" + QUOTA + "\""), log);
        AdminHarness.Result r = relaybox("status");
        assertEquals(1, r.code(), "degraded while paused: " + r);
        assertTrue(r.out().contains("upstream google: paused") && r.out().contains("quota, until "), r.toString());
        assertTrue(r.out().contains("status: DEGRADED: upstream google is paused (quota"), r.toString());
        String health = http("/healthz");
        assertTrue(health.contains("\"status\":\"degraded\"") && health.contains("upstream google paused (quota, until"),
                health);
        assertTrue(http("/metrics").contains("relaybox_upstream_paused{upstream=\"google\"} 1.0"), "gauge");

        // The operator resumes it once the quota is back: mail goes to google again.
        google.clearRules();
        r = relaybox("upstream", "resume", "google");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().startsWith("upstream google: up"), r.toString());
        send(1);
        await("delivered through google", () -> google.received.size() == 1);
        assertEquals(0, relaybox("status").code(), "healthy again");
        assertTrue(log().contains("- forward resumed name=google by=operator retried="), log());

        // An operator's pause holds until resumed, and survives a kill -9.
        r = relaybox("upstream", "pause", "google");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("upstream google: paused") && r.out().contains("operator, until resumed"),
                r.toString());
        send(1);
        await("failover while paused", () -> backup.received.size() == 3);
        daemon.kill();
        start(conf);
        r = relaybox("status");
        assertTrue(r.out().contains("upstream google: paused") && r.out().contains("operator, until resumed"),
                "the pause is held across the restart: " + r);
        // The message in flight at the kill may reach the backup twice (sent, then the kill
        // before its outcome was written: a duplicate, never a loss), so the wait is for this
        // very message, not for a count that the resend can pass before the first poll (CI).
        String afterRestart = "Subject: pause " + sent + "\r\n";
        send(1);
        await("failover after the restart", () -> backup.received.stream().anyMatch(
                m -> new String(m.data(), java.nio.charset.StandardCharsets.UTF_8).contains(afterRestart)));
        assertEquals(1, google.received.size(), "nothing to a paused upstream");
        assertTrue(http("/metrics").contains("relaybox_upstream_paused{upstream=\"google\"} 1.0"), "gauge after restart");

        // A pause with --for ends by itself.
        r = relaybox("upstream", "pause", "google", "--for", "2s");
        assertEquals(0, r.code(), r.toString());
        await("the pause expired", () -> relaybox("status").out().contains("upstream google: up"));
        // Status reads the pause's end from the clock; the link monitor logs the resume at its next
        // tick (forward_probe_interval, 200 ms here), which a loaded machine may not have run yet.
        await("the expiry in the mail log", () -> log().contains("- forward resumed name=google by=expiry retried="));
        send(1);
        await("delivered through google after the expiry", () -> google.received.size() == 2);

        // Mistakes get clear errors and the documented exit codes.
        r = relaybox("upstream", "pause", "nosuch");
        assertEquals(1, r.code(), r.toString());
        assertTrue(r.err().contains("no upstream named \"nosuch\" (configured: google, backup)"), r.toString());
        r = relaybox("upstream", "pause", "google", "--for", "soon");
        assertEquals(2, r.code(), r.toString());
        assertTrue(r.err().contains("for: expected a duration"), r.toString());
    }

    /** Starts the daemon, or starts it again after a kill; it logs as shipped, since this test reads its mail log. */
    private void start(Path conf) throws Exception {
        if (daemon == null) {
            daemon = new DaemonProcess(DaemonProcess.RELAYBOX_CLI, conf, tmp.resolve("daemon.log"), 0, List.of());
        }
        daemon.spawn();
        await("the daemon", () -> !daemon.alive() || relaybox("status").code() != 3);
        assertTrue(daemon.alive(), "daemon exited: " + log());
    }

    private String listener(String name) throws Exception {
        return AdminHarness.listener(tmp.resolve("control.sock"), name);
    }

    private void send(int n) throws Exception {
        String intake = listener("intake");
        for (int i = 0; i < n; i++) {
            AdminHarness.Result r = AdminHarness.exec(tmp.resolve("none.conf"), Map.of(), "To: a@x.example\nSubject: "
                    + "pause " + sent++ + "\n\nbody\n", "sendmail", "--smtp", intake, "-t", "-i", "-f", "app@corp.example");
            assertEquals(0, r.code(), r.toString());
        }
    }

    private String http(String path) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://" + listener("metrics") + path)).build(), HttpResponse.BodyHandlers.ofString());
        return r.body();
    }

    private AdminHarness.Result relaybox(String... args) {
        return AdminHarness.client(tmp.resolve("control.sock"), "", args);
    }

    /** The daemon's log across its restarts. */
    private String log() {
        try {
            return daemon == null ? "" : daemon.wholeLog();
        } catch (java.io.IOException e) {
            return e.toString();
        }
    }

    private static int count(String text, String part) {
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }

    private void await(String what, BooleanSupplier condition) throws InterruptedException {
        Instant end = Instant.now().plus(WAIT);
        while (!condition.getAsBoolean()) {
            if (Instant.now().isAfter(end)) {
                fail("gave up waiting for " + what + "\n" + log());
            }
            Thread.sleep(100);
        }
    }
}
