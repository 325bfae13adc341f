package relaybox.relay.intake;

import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * AUTH at the intake ({@link AuthExchange}): refused before any 334 without TLS, an empty user
 * name refused cleanly, guessing limited per network and globally ({@link AuthThrottle}).
 */
class AuthExchangeTest {

    @TempDir
    Path dir;

    private IntakeHarness tlsIntake(String extra) throws Exception {
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        HostileSessionTest.writeSelfSigned(cert, key);
        Path creds = dir.resolve("creds");
        Files.writeString(creds, "user:" + Credentials.hash("right-password") + "\n");
        return new IntakeHarness(new ControllableQueue(), "intake_tls_cert = \"" + cert + "\"\nintake_tls_key = \""
                + key + "\"\nintake_auth_credentials = \"" + creds + "\"\n" + extra);
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void authOnAPlaintextSessionIsRefusedBeforeAny334() throws Exception {
        try (IntakeHarness t = tlsIntake(""); RawSmtp c = t.connect()) {
            c.cmd("EHLO client.example");
            List<String> replies = new ArrayList<>();
            // What a client configured for AUTH without TLS sends, each answer read before the next.
            for (String line : List.of("AUTH LOGIN", b64("user"), b64("right-password"), "AUTH PLAIN",
                    "AUTH LOGIN " + b64("user"), "AUTH PLAIN " + b64("\0user\0right-password"))) {
                replies.add(c.cmd(line));
            }
            assertTrue(replies.stream().noneMatch(r -> r.startsWith("334")), "a 334 asked for credentials in clear: "
                    + replies);
            assertTrue(replies.get(0).startsWith("530 5.7.0"), replies.toString());
            assertTrue(replies.get(3).startsWith("530 5.7.0"), replies.toString());
            assertTrue(replies.get(4).startsWith("530 5.7.0"), replies.toString());
            assertTrue(replies.get(5).startsWith("530 5.7.0"), replies.toString());
            assertTrue(c.cmd("NOOP").startsWith("250"), "the session goes on");
        }
    }

    @Test
    void anEmptyUserNameIsRefusedWithoutAStackTrace() throws Exception {
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        ListAppender<ILoggingEvent> logged = new ListAppender<>();
        logged.start();
        root.addAppender(logged);
        try (IntakeHarness t = tlsIntake("intake_auth_max_failures = 100\n")) {
            for (List<String> dialog : List.of(
                    List.of("AUTH LOGIN", "", b64("password")),
                    List.of("AUTH LOGIN =", b64("password")),
                    List.of("AUTH LOGIN", "=", b64("password")),
                    List.of("AUTH PLAIN " + b64("\0\0password")))) {
                try (HostileSessionTest.Tls c = HostileSessionTest.Tls.connect(t)) {
                    c.cmd("EHLO a");
                    c.cmd("STARTTLS");
                    c.upgrade();
                    c.cmd("EHLO a");
                    String last = null;
                    for (String line : dialog) {
                        last = c.cmd(line);
                    }
                    assertTrue(last.startsWith("535 5.7.8") || last.startsWith("501"), dialog + ": " + last);
                    assertTrue(c.cmd("NOOP").startsWith("250"), dialog + ": the session must go on");
                }
            }
        } finally {
            root.detachAppender(logged);
        }
        List<ILoggingEvent> traces = logged.list.stream().filter(e -> e.getThrowableProxy() != null).toList();
        assertTrue(traces.isEmpty(), "logged with a stack trace: " + traces);
    }

    @Test
    void failuresFromOneNetworkLockOutItsOtherAddresses() throws Exception {
        try (IntakeHarness t = tlsIntake("intake_auth_max_failures = 3\nintake_auth_network_failures = 4\n")) {
            // 127.0.0.2 and 127.0.0.3 are two addresses of one /24: two failures each, none locked alone.
            for (String from : List.of("127.0.0.2", "127.0.0.3")) {
                try (HostileSessionTest.Tls c = tls(t, from)) {
                    assertTrue(c.cmd(plain("user", "guess1")).startsWith("535"));
                    assertTrue(c.cmd(plain("user", "guess2")).startsWith("535"));
                }
            }
            // A third address of the /24 is refused unchecked, even with the right password.
            try (HostileSessionTest.Tls c = tls(t, "127.0.0.4")) {
                String r = c.cmd(plain("user", "right-password"));
                assertTrue(r.startsWith("421 4.7.0"), r);
            }
            // Another /24 is not affected.
            try (HostileSessionTest.Tls c = tls(t, "127.0.1.5")) {
                String r = c.cmd(plain("user", "right-password"));
                assertTrue(r.startsWith("235"), r);
            }
        }
    }

    @Test
    void pipelinedCommandsWaitForTheAnswerToAuth() throws Exception {
        try (IntakeHarness t = tlsIntake(""); HostileSessionTest.Tls c = tls(t, null)) {
            // AUTH and MAIL in one write: MAIL must be run after AUTH has been answered.
            String both = c.cmd(plain("user", "right-password") + "\r\nMAIL FROM:<a@b.example>");
            assertTrue(both.startsWith("235"), both);
            String mail = c.reply();
            assertTrue(mail.startsWith("250"), mail);
            assertTrue(c.cmd("RCPT TO:<x@remote.example>").startsWith("250"),
                    "the authenticated client may relay: AUTH took effect before MAIL ran");
        }
    }

    private static HostileSessionTest.Tls tls(IntakeHarness t, String from) throws Exception {
        HostileSessionTest.Tls c = HostileSessionTest.Tls.connect(t, from);
        c.cmd("EHLO a");
        c.cmd("STARTTLS");
        c.upgrade();
        c.cmd("EHLO a");
        return c;
    }

    private static String plain(String user, String password) {
        return "AUTH PLAIN " + b64("\0" + user + "\0" + password);
    }

    @Test
    void throttleCountsIpv6SlashSixtyFourAndIpv4SlashTwentyFour() throws Exception {
        assertEquals(AuthThrottle.network(InetAddress.getByName("2001:db8:1:2:aaaa::1")),
                AuthThrottle.network(InetAddress.getByName("2001:db8:1:2:ffff:1:2:3")));
        assertFalse(AuthThrottle.network(InetAddress.getByName("2001:db8:1:2::1"))
                .equals(AuthThrottle.network(InetAddress.getByName("2001:db8:1:3::1"))));
        assertEquals(AuthThrottle.network(InetAddress.getByName("192.0.2.1")),
                AuthThrottle.network(InetAddress.getByName("192.0.2.254")));
        assertFalse(AuthThrottle.network(InetAddress.getByName("192.0.2.1"))
                .equals(AuthThrottle.network(InetAddress.getByName("192.0.3.1"))));
    }

    @Test
    void theGlobalLimitRefusesEveryoneUntilTheMinuteEnds() throws Exception {
        Instant[] now = {Instant.parse("2026-01-01T00:00:00Z")};
        Clock clock = new Clock() {
            public java.time.ZoneId getZone() {
                return ZoneOffset.UTC;
            }

            public Clock withZone(java.time.ZoneId z) {
                return this;
            }

            public Instant instant() {
                return now[0];
            }
        };
        AuthThrottle t = new AuthThrottle(1000, 1000, 5, clock);
        for (int i = 0; i < 5; i++) {
            assertNull(t.refuses(InetAddress.getByName("198.51." + i + ".1")));
            t.failed(InetAddress.getByName("198.51." + i + ".1"));
        }
        assertEquals(AuthThrottle.Limit.GLOBAL, t.refuses(InetAddress.getByName("203.0.113.9")));
        now[0] = now[0].plusSeconds(60);
        assertNull(t.refuses(InetAddress.getByName("203.0.113.9")), "a new minute");
    }
}
