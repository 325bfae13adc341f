package relaybox.admin;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.forward.FakeEsp;
import relaybox.relay.forward.FakeTokenEndpoint;
import relaybox.relay.reliability.DaemonProcess;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Nothing in a secrets file, and no token, is ever shown: the real daemon (a child JVM, relaybox
 * loggers at TRACE) forwards through three upstreams, PLAIN, LOGIN and XOAUTH2 (password, client
 * secret, refresh token, and the access tokens the fake provider issues), then each fails: a
 * changed password at the ESP, a revoked refresh token, a provider answering 503. Every word the
 * relay said meanwhile is collected (the daemon log with the mail log in it, /metrics, /healthz,
 * and the CLI's output and errors for status, config show, upstream test, queue list, config
 * check and upstream login) and searched for every secret, raw and in the base64 forms AUTH
 * sends them in. The search is shown to have had something to search: the failures' reasons
 * (535, AADSTS700082, AADSTS90033) are in the collected text.
 */
class SecretsNeverShownTest {

    private static final String MAILBOX = "relay@corp.example";
    private static final String PLAIN_PASSWORD = "Pl41n-pass-w0rd-7f3a";
    private static final String LOGIN_PASSWORD = "L0g1n-pass-w0rd-91bc";
    private static final String CLIENT_SECRET = "cs-Zq8~client-secret-4e2d";
    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;
    DaemonProcess daemon;
    final List<String> said = new ArrayList<>();

    @AfterEach
    void stop() throws Exception {
        if (daemon != null) {
            daemon.close();
        }
    }

    @Test
    void noSecretOrTokenAppearsInAnyLogMetricHealthReplyOrCliOutput() throws Exception {
        try (FakeTokenEndpoint idp = new FakeTokenEndpoint(); FakeEsp plain = new FakeEsp();
             FakeEsp login = new FakeEsp(); FakeEsp ms365 = new FakeEsp()) {
            idp.rotate = true;
            idp.clientSecret = CLIENT_SECRET;
            plain.authMechs = "PLAIN LOGIN";
            plain.user = "plain-user";
            plain.password = PLAIN_PASSWORD;
            login.authMechs = "LOGIN XOAUTH2"; // Microsoft 365 offers no PLAIN
            login.user = "login-user";
            login.password = LOGIN_PASSWORD;
            ms365.authMechs = "LOGIN XOAUTH2";
            ms365.user = MAILBOX;
            ms365.bearerValid = idp::accessValid;
            for (FakeEsp e : List.of(plain, login, ms365)) {
                e.start();
            }
            Path plainSecret = secret("plain.secret", "username=plain-user\npassword=" + PLAIN_PASSWORD + "\n");
            Path loginSecret = secret("login.secret", "username=login-user\npassword=" + LOGIN_PASSWORD + "\n");
            Path msSecret = secret("ms365.secret", "username=" + MAILBOX + "\nclient_secret=" + CLIENT_SECRET
                    + "\nrefresh_token=" + idp.grant("rt-first-0a1b2c3d4e5f") + "\n");
            int intake = DaemonProcess.freePort();
            int metrics = DaemonProcess.freePort();
            Path conf = tmp.resolve("relaybox.conf");
            Files.writeString(conf, DaemonProcess.baseKeys(tmp, tmp.resolve("queue"), intake) + """
                    metrics_listen = "127.0.0.1:%d"

                    [[upstream]]
                    name = "plain"
                    host = "127.0.0.1"
                    port = %d
                    tls = "none"
                    auth_file = "%s"
                    auth_mechanism = "plain"
                    sender_domains = ["plain.example"]

                    [[upstream]]
                    name = "login"
                    host = "127.0.0.1"
                    port = %d
                    tls = "none"
                    auth_file = "%s"
                    auth_mechanism = "login"
                    sender_domains = ["login.example"]

                    [[upstream]]
                    name = "ms365"
                    host = "127.0.0.1"
                    port = %d
                    tls = "none"
                    auth_file = "%s"
                    oauth_provider = "microsoft"
                    oauth_client_id = "%s"
                    oauth_token_endpoint = "%s"
                    oauth_device_endpoint = "%s"
                    """.formatted(metrics, plain.port(), plainSecret, login.port(), loginSecret, ms365.port(), msSecret,
                    FakeTokenEndpoint.CLIENT_ID, idp.url(), idp.deviceUrl()));
            startDaemon(conf, intake);

            // All three carry mail.
            for (int i = 0; i < 2; i++) {
                send(intake, "app@plain.example");
                send(intake, "app@login.example");
                send(intake, "app@corp.example");
            }
            await("each upstream took its two", () -> plain.received.size() == 2 && login.received.size() == 2
                    && ms365.received.size() == 2);
            assertEquals("plain-user", plain.received.get(0).authUser(), "AUTH PLAIN was used");
            assertEquals("login-user", login.received.get(0).authUser(), "AUTH LOGIN was used");
            assertTrue(ms365.xoauth2.get() > 0, "AUTH XOAUTH2 was used");
            collect(conf, metrics, Cli.OK);

            // Each fails: the ESPs changed the passwords, the provider revoked the refresh token.
            plain.password = "changed-at-the-esp-1";
            login.password = "changed-at-the-esp-2";
            idp.revokeAll();
            for (FakeEsp e : List.of(plain, login, ms365)) {
                e.dropConnections();
            }
            send(intake, "app@plain.example");
            send(intake, "app@login.example");
            send(intake, "app@corp.example");
            await("three upstreams in backoff", () -> {
                String s = cli("status", "--json").out();
                return s.contains("AADSTS700082") && s.split("\"backoff\"", -1).length - 1 == 3;
            });
            collect(conf, metrics, Cli.NOT_FOUND);

            // A new refresh token, but the provider is in trouble (503): the link is down, not misconfigured.
            idp.unavailable = true;
            secret("ms365.secret", "username=" + MAILBOX + "\nclient_secret=" + CLIENT_SECRET + "\nrefresh_token="
                    + idp.grant("rt-second-6f7a8b9c0d1e") + "\n");
            await("the provider's 503 in status", () -> cli("status", "--json").out().contains("AADSTS90033"));
            collect(conf, metrics, Cli.NOT_FOUND);

            // CLI errors: a sign-in the provider refuses; a secrets file others could read.
            idp.unavailable = false;
            idp.deviceError = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000218: The request body"
                    + " must contain the following parameter: 'client_assertion' or 'client_secret'.\"}";
            AdminHarness.Result r = cli("upstream", "login", "ms365", "--config", conf.toString());
            assertEquals(Cli.NOT_FOUND, r.code(), r.toString());
            said.add(r.toString());
            Files.setPosixFilePermissions(plainSecret, PosixFilePermissions.fromString("rw-r--r--"));
            r = cli("config", "check", conf.toString());
            assertEquals(Cli.USAGE, r.code(), r.toString());
            said.add(r.toString());
            Files.setPosixFilePermissions(plainSecret, PosixFilePermissions.fromString("rw-------"));

            // Fixed: the mail drains.
            plain.password = PLAIN_PASSWORD;
            login.password = LOGIN_PASSWORD;
            AdminHarness.Result retry = cli("queue", "retry", "--all");
            said.add(retry.toString());
            assertTrue(retry.code() == Cli.OK || retry.code() == Cli.NOT_FOUND, retry.toString());
            await("everything delivered", () -> plain.received.size() == 3 && login.received.size() == 3
                    && ms365.received.size() == 3);
            collect(conf, metrics, Cli.OK);
            said.add(Files.readString(tmp.resolve("daemon.log")));

            String everything = String.join("\n", said);
            for (String reason : List.of("535 5.7.8", "AADSTS700082", "AADSTS90033", "AADSTS7000218",
                    "other users can access this secret", " forward delivered ", "relaybox_upstream_link_state",
                    "upstream ms365 backoff")) {
                assertTrue(everything.contains(reason), "the collected text lacks " + reason + ": nothing to search?");
            }
            Map<String, String> secrets = secrets(idp);
            List<String> shown = new ArrayList<>();
            secrets.forEach((what, value) -> {
                if (everything.contains(value)) {
                    shown.add(what + " at \"" + around(everything, value) + "\"");
                }
            });
            assertEquals(List.of(), shown, "secrets were shown (" + secrets.size() + " values searched)");
        }
    }

    /** Every secret value, named for the failure message (which never prints the value whole). */
    private static Map<String, String> secrets(FakeTokenEndpoint idp) {
        Map<String, String> m = new LinkedHashMap<>();
        Base64.Encoder b64 = Base64.getEncoder();
        for (String[] p : new String[][]{{"plain-user", PLAIN_PASSWORD}, {"login-user", LOGIN_PASSWORD}}) {
            m.put("password of " + p[0], p[1]);
            m.put("password of " + p[0] + " (AUTH LOGIN base64)", b64.encodeToString(p[1].getBytes(StandardCharsets.UTF_8)));
            m.put("password of " + p[0] + " (AUTH PLAIN base64)",
                    b64.encodeToString(("\0" + p[0] + "\0" + p[1]).getBytes(StandardCharsets.UTF_8)));
        }
        m.put("client secret", CLIENT_SECRET);
        m.put("client secret (form-encoded)", java.net.URLEncoder.encode(CLIENT_SECRET, StandardCharsets.UTF_8));
        int n = 0;
        for (String t : idp.issued) {
            String kind = t.startsWith("at-") ? "access token" : t.startsWith("dc-") ? "device code" : "refresh token";
            m.put(kind + " #" + ++n, t);
            if (t.startsWith("at-")) {
                m.put(kind + " #" + n + " (AUTH XOAUTH2 base64)", b64.encodeToString(("user=" + MAILBOX + "\u0001auth=Bearer "
                        + t + "\u0001\u0001").getBytes(StandardCharsets.UTF_8)));
            }
        }
        return m;
    }

    private static String around(String text, String value) {
        int at = text.indexOf(value);
        return text.substring(Math.max(0, at - 60), at).replace('\n', ' ') + "<" + value.substring(0, 4) + "...>";
    }

    /** What an operator and a monitor see now, added to {@link #said}. */
    private void collect(Path conf, int metricsPort, int statusCode) throws Exception {
        AdminHarness.Result status = cli("status");
        assertEquals(statusCode, status.code(), status.toString());
        for (String[] args : new String[][]{{"status"}, {"status", "--json"}, {"config", "show"}, {"upstream", "test"},
                {"upstream", "test", "--json"}, {"queue", "list", "--json"}, {"queue", "stats"}}) {
            said.add(cli(args).toString());
        }
        said.add(cli("config", "check", conf.toString()).toString());
        said.add(get(metricsPort, "/metrics"));
        said.add(get(metricsPort, "/healthz"));
    }

    private AdminHarness.Result cli(String... args) {
        return AdminHarness.client(tmp.resolve("control.sock"), "", args);
    }

    private static String get(int port, String path) throws Exception {
        HttpResponse<String> r = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + path)).build(), HttpResponse.BodyHandlers.ofString());
        return path + " " + r.statusCode() + "\n" + r.body();
    }

    private Path secret(String name, String text) throws Exception {
        Path file = tmp.resolve(name);
        Path t = tmp.resolve(name + ".tmp");
        Files.writeString(t, text);
        Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rw-------"));
        Files.move(t, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        return file;
    }

    /** The daemon as systemd runs it, with every relaybox logger at TRACE: a secret at any level is found. */
    private void startDaemon(Path conf, int intake) throws Exception {
        Path logback = Files.writeString(tmp.resolve("logback-trace.xml"), """
                <configuration>
                  <statusListener class="ch.qos.logback.core.status.NopStatusListener"/>
                  <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
                    <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{0}: %msg%n</pattern></encoder>
                  </appender>
                  <logger name="relaybox" level="TRACE"/>
                  <root level="INFO"><appender-ref ref="OUT"/></root>
                </configuration>
                """);
        daemon = new DaemonProcess(DaemonProcess.RELAYBOX_CLI, conf, tmp.resolve("daemon.log"), intake,
                List.of("-Dlogback.configurationFile=" + logback));
        daemon.spawn();
        await("the intake accepts", () -> {
            try (Socket s = new Socket(InetAddress.getLoopbackAddress(), intake)) {
                return true;
            } catch (java.io.IOException e) {
                assertTrue(daemon.alive(), "daemon exited: " + Files.readString(tmp.resolve("daemon.log")));
                return false;
            }
        });
    }

    /** One message over SMTP from {@code sender}; asserts the 250. */
    private static void send(int port, String sender) throws Exception {
        try (Socket s = new Socket(InetAddress.getLoopbackAddress(), port)) {
            s.setSoTimeout(30_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.US_ASCII));
            OutputStream out = s.getOutputStream();
            reply(in, "220");
            for (String[] step : new String[][]{{"EHLO client.test", "250"}, {"MAIL FROM:<" + sender + ">", "250"},
                    {"RCPT TO:<someone@example.org>", "250"}, {"DATA", "354"},
                    {"From: " + sender + "\r\nSubject: secrets test\r\n\r\nhello\r\n.", "250"}, {"QUIT", "221"}}) {
                out.write((step[0] + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                reply(in, step[1]);
            }
        }
    }

    private static void reply(BufferedReader in, String code) throws Exception {
        String line;
        do {
            line = in.readLine();
            if (line == null || !line.startsWith(code)) {
                fail("expected " + code + ", got " + line);
            }
        } while (line.charAt(3) == '-');
    }

    private void await(String what, Callable<Boolean> cond) throws Exception {
        long end = System.nanoTime() + WAIT.toNanos();
        while (!cond.call()) {
            if (System.nanoTime() > end) {
                fail("timed out waiting for: " + what + "\n" + Files.readString(tmp.resolve("daemon.log")));
            }
            Thread.sleep(50);
        }
    }
}
