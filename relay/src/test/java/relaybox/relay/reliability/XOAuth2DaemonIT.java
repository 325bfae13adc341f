package relaybox.relay.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.control.api.ControlClient;
import relaybox.relay.control.api.ControlReply;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.Op;
import relaybox.relay.forward.FakeEsp;
import relaybox.relay.forward.FakeTokenEndpoint;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * XOAUTH2 through the real daemon in a child JVM, against a Microsoft-like fake ESP (AUTH LOGIN
 * XOAUTH2, no PLAIN) and a fake token endpoint that rotates refresh tokens: one token serves many
 * messages and connections; the rotated refresh token survives a kill -9; a revoked one defers
 * mail (never a bounce), shows the provider's error in status and upstream test, and the mail
 * drains by itself once a new refresh token is placed. Then every log line and control reply is
 * searched for every token and secret. A short-lived token is replaced before it expires, so no
 * AUTH is ever refused for an expired one.
 */
class XOAuth2DaemonIT {

    private static final String MAILBOX = "relay@corp.example";
    private static final Duration WAIT = Duration.ofSeconds(30);

    @TempDir
    Path dir;

    @Test
    void tokensAreFetchedOnceRotatedKeptAcrossRestartsAndNeverShown() throws Exception {
        try (FakeTokenEndpoint idp = new FakeTokenEndpoint(); FakeEsp esp = new FakeEsp()) {
            idp.rotate = true;
            esp.authMechs = "LOGIN XOAUTH2";
            esp.user = MAILBOX;
            esp.bearerValid = idp::accessValid;
            esp.start();
            Path secrets = dir.resolve("ms365.secret");
            writeSecrets(secrets, "username=" + MAILBOX + "\nrefresh_token=" + idp.grant("rt-initial-abcdef0123") + "\n");
            int port = DaemonProcess.freePort();
            int metricsPort = DaemonProcess.freePort();
            Path conf = dir.resolve("relaybox.conf");
            // tls = "none" is allowed with AUTH only because the fake ESP is on loopback.
            Files.writeString(conf, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, esp.port(),
                    "metrics_listen = \"127.0.0.1:" + metricsPort + "\"\n")
                    + "auth_file = \"" + secrets + "\"\n"
                    + "oauth_provider = \"microsoft\"\n"
                    + "oauth_client_id = \"" + FakeTokenEndpoint.CLIENT_ID + "\"\n"
                    + "oauth_token_endpoint = \"" + idp.url() + "\"\n"
                    + "max_connections = 2\nmessages_per_connection = 2\n");
            ControlClient control = new ControlClient(DaemonProcess.controlSocket(dir), Duration.ofSeconds(30));
            List<String> shown = new ArrayList<>();
            try (DaemonProcess d = new DaemonProcess(conf, dir.resolve("daemon.log"), port, List.of())) {
                d.start(Duration.ofSeconds(60));
                send(port, 6, "a");
                await("6 delivered", () -> esp.received.size() == 6, d);
                assertEquals(1, idp.calls.get(), "one token for every message and connection");
                assertTrue(esp.connections.get() >= 3, "2 messages per connection: " + esp.connections.get());
                assertFalse(Files.readString(secrets).contains("rt-initial-abcdef0123"), "rotated token saved");

                d.kill();
                d.start(Duration.ofSeconds(60));
                send(port, 1, "b");
                // The initial refresh token was revoked by the rotation: only the saved one works.
                // (A message sent just before the kill may come again: at least once, never lost.)
                await("delivered after kill -9", () -> received(esp, "b0"), d);
                assertEquals(2, idp.calls.get());

                idp.revokeAll();
                // A session already authenticated stays so (as at Microsoft): end it, so the next
                // message needs a new AUTH.
                esp.dropConnections();
                send(port, 1, "c");
                await("down with the provider's words", () -> call(control, "status", shown).contains("AADSTS700082"), d);
                String status = call(control, "status", shown);
                assertTrue(status.contains("\"state\":\"backoff\""), status);
                assertTrue(call(control, "upstream-test", shown).contains("AADSTS700082"), shown.toString());
                // /healthz: degraded (still 200: buffering is the relay's job), and why, in the provider's words.
                java.net.http.HttpResponse<String> health = healthz(metricsPort);
                shown.add(health.body());
                assertEquals(200, health.statusCode());
                // Backing off, or caught in the middle of a probe: either way the provider's words stay.
                String why = "AUTH: token endpoint 127.0.0.1 refused the refresh_token grant: HTTP 400,"
                        + " invalid_grant: AADSTS700082";
                assertTrue(health.body().startsWith("{\"status\":\"degraded\"") && (health.body().contains(
                        "upstream sink backoff: " + why) || health.body().contains("upstream sink probing: " + why)),
                        health.body());
                call(control, "config-show", shown);
                assertFalse(received(esp, "c0"), "no delivery without a token");
                assertFalse(d.currentLog().contains(" forward failed "), "never a bounce:\n" + d.currentLog());
                assertEquals(1, d.logCount("ERROR FailurePolicy: upstream sink: configuration or account"
                        + " problem, mail is deferred until it is fixed: AUTH: token endpoint"),
                        "the token failure logged once:\n" + d.currentLog());

                writeSecrets(secrets, "username=" + MAILBOX + "\nrefresh_token=" + idp.grant("rt-operator-new-42") + "\n");
                await("drained once a new refresh token is placed", () -> received(esp, "c0"), d);
                call(control, "status", shown);
                await("healthy again", () -> healthz(metricsPort).body().contains("\"healthy\""), d);
                shown.add(healthz(metricsPort).body());
                shown.add(get(metricsPort, "/metrics").body());

                List<String> secretValues = new ArrayList<>(idp.issued);
                String everything = d.wholeLog() + "\n" + String.join("\n", shown);
                for (String s : secretValues) {
                    assertFalse(everything.contains(s), "a token or secret was shown: " + s.substring(0, 6) + "…");
                }
                assertTrue(everything.contains(MAILBOX) || everything.contains("sink"), "the search had text to search");
            }
        }
    }

    @Test
    void aShortLivedAccessTokenIsReplacedBeforeItExpires() throws Exception {
        try (FakeTokenEndpoint idp = new FakeTokenEndpoint(); FakeEsp esp = new FakeEsp()) {
            // 4 s tokens: relaybox replaces one after half its lifetime (the margin is 5 minutes or
            // half the lifetime, whichever is less), so from 2 s on it must fetch a new one.
            idp.expiresIn = 4;
            // The provider's clock runs 1.5 s ahead (skew, and the time the reply took): a token used
            // until the very end of its expires_in would be refused.
            idp.clockAheadMillis = 1500;
            esp.authMechs = "LOGIN XOAUTH2";
            esp.user = MAILBOX;
            esp.bearerValid = idp::accessValid;
            esp.start();
            Path secrets = dir.resolve("ms365.secret");
            writeSecrets(secrets, "username=" + MAILBOX + "\nrefresh_token=" + idp.grant("rt-short-lived-77") + "\n");
            int port = DaemonProcess.freePort();
            Path conf = dir.resolve("relaybox.conf");
            // One message per connection: every message needs an AUTH with a token valid right then.
            Files.writeString(conf, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, esp.port(), "")
                    + "auth_file = \"" + secrets + "\"\n"
                    + "oauth_provider = \"microsoft\"\n"
                    + "oauth_client_id = \"" + FakeTokenEndpoint.CLIENT_ID + "\"\n"
                    + "oauth_token_endpoint = \"" + idp.url() + "\"\n"
                    + "max_connections = 1\nmessages_per_connection = 1\n");
            try (DaemonProcess d = new DaemonProcess(conf, dir.resolve("daemon.log"), port, List.of())) {
                d.start(Duration.ofSeconds(60));
                // Timing-dependent on purpose: tokens expire with the clock, so the test sends one
                // message every 250 ms for 9 s, more than two token lifetimes.
                long end = System.nanoTime() + Duration.ofSeconds(9).toNanos();
                int sent = 0;
                while (System.nanoTime() < end) {
                    send(port, 1, "t" + sent++);
                    int want = sent;
                    await(want + " delivered", () -> esp.received.size() >= want, d);
                    Thread.sleep(250);
                }
                assertTrue(idp.calls.get() >= 3, "a new token at least every 2 s of 9: " + idp.calls.get() + " fetches");
                assertTrue(idp.calls.get() < sent, "yet not one per message: " + idp.calls.get() + " for " + sent);
                assertEquals(List.of(), esp.challengeAnswers, "no AUTH was ever refused for an expired token");
                assertFalse(d.currentLog().contains(" forward deferred "), d.currentLog());
            }
        }
    }

    private static java.net.http.HttpResponse<String> healthz(int metricsPort) throws Exception {
        return get(metricsPort, "/healthz");
    }

    private static java.net.http.HttpResponse<String> get(int port, String path) throws Exception {
        return java.net.http.HttpClient.newHttpClient().send(java.net.http.HttpRequest.newBuilder(
                java.net.URI.create("http://127.0.0.1:" + port + path)).build(),
                java.net.http.HttpResponse.BodyHandlers.ofString());
    }

    private static boolean received(FakeEsp esp, String tag) {
        return esp.received.stream().anyMatch(r -> r.text().contains("X-Test-Id: xoauth2-" + tag + "\r\n"));
    }

    private static void writeSecrets(Path file, String text) throws Exception {
        Path t = file.resolveSibling("secret.tmp");
        Files.writeString(t, text);
        Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rw-------"));
        Files.move(t, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private static void send(int port, int n, String tag) throws Exception {
        try (SmtpSender s = new SmtpSender(port, 10_000)) {
            s.hello();
            for (int i = 0; i < n; i++) {
                String r = s.send("xoauth2-" + tag + i, 200);
                assertTrue(r.startsWith("250"), r);
            }
        }
    }

    private static String call(ControlClient control, String op, List<String> shown) throws Exception {
        ControlReply r = control.call(new ControlRequest.Plain(Op.of(op).orElseThrow()));
        String text = r.json().toString();
        shown.add(text);
        return text;
    }

    private static void await(String what, java.util.concurrent.Callable<Boolean> cond, DaemonProcess d)
            throws Exception {
        d.await(what, WAIT, cond);
    }
}
