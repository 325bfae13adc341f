package relaybox.relay.intake;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;
import relaybox.queue.MutableClock;
import relaybox.relay.forward.TestCerts;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A table of abusive sessions and the replies they must get (issue 8), against a real intake on a
 * loopback port. Each row is a list of steps: bytes to send, then the reply expected (a prefix,
 * or "closed" when the intake must have hung up). After every row a well-behaved transaction on a
 * new connection must still be queued, so no row leaves the intake damaged. Cases the dialog test
 * already covers (10,000-byte command, bare LF/CR in DATA, smuggling, SIZE) are not repeated.
 * STARTTLS twice and AUTH guessing need TLS and have their own tests below.
 */
class HostileSessionTest {

    private static final String QUEUED = "250 2.0.0 Ok: queued as ";

    @TempDir
    static Path tls;

    @AutoClose
    IntakeHarness h; // package-private: HostileSessionNormalizeTest turns on normalize mode
    private ControllableQueue queue;
    private final List<String> log = new ArrayList<>();

    /** One step: what the client sends, and the reply it must get ("closed": the server hung up). */
    record Step(byte[] send, String expect) {
        static Step of(String send, String expect) {
            return new Step(send.getBytes(StandardCharsets.ISO_8859_1), expect);
        }

        @Override
        public String toString() {
            String s = new String(send, StandardCharsets.ISO_8859_1);
            return (s.length() > 40 ? s.substring(0, 40) + "...(" + s.length() + " bytes)" : s)
                    .replace("\r", "\\r").replace("\n", "\\n").replace("\0", "\\0") + " -> " + expect;
        }
    }

    @BeforeEach
    void start() throws Exception {
        queue = new ControllableQueue();
        h = new IntakeHarness(queue, IntakeHarness.DIALOG_LIMITS);
    }

    static Stream<Arguments> sessions() {
        byte[] garbage = new byte[4096];
        new Random(8).nextBytes(garbage);
        StringBuilder manyRcpt = new StringBuilder();
        for (int i = 0; i < 10_000; i++) {
            manyRcpt.append("RCPT TO:<r").append(i).append("@example.org>\r\n");
        }
        StringBuilder pipelined = new StringBuilder("MAIL FROM:<a@b.example>\r\n");
        for (int i = 0; i < 2_000; i++) {
            pipelined.append("NOOP\r\n");
        }
        return Stream.of(
                Arguments.of("NUL byte in a command", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("MAIL FROM:<a\0b@b.example>\r\n", "500 5.5.2"),
                        Step.of("MAIL FROM:<a@b.example>\r\n", "250"))),
                Arguments.of("NUL bytes alone", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("\0\0\0\0\r\n", "500 5.5.2"),
                        Step.of("NOOP\r\n", "250"))),
                Arguments.of("100 kB command line", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("MAIL FROM:<" + "a".repeat(100_000) + "@b.example>\r\n", "500 5.5.2"),
                        Step.of("MAIL FROM:<a@b.example>\r\n", "250"))),
                Arguments.of("100 kB without any line end, then one", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("X".repeat(100_000) + "\r\n", "500"),
                        Step.of("NOOP\r\n", "250"))),
                Arguments.of("binary garbage", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        new Step(garbage, "5 or closed"))),
                Arguments.of("RCPT before MAIL", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("RCPT TO:<x@example.org>\r\n", "503"))),
                Arguments.of("DATA before RCPT", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("MAIL FROM:<a@b.example>\r\n", "250"),
                        Step.of("DATA\r\n", "554 5.5.1"))),
                Arguments.of("DATA before MAIL", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("DATA\r\n", "503"))),
                Arguments.of("bare CR inside an address (CRLF injection)", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("MAIL FROM:<a@b.example\rRCPT TO:<evil@x.example>>\r\n", "500 5.5.2"),
                        Step.of("MAIL FROM:<a@b.example>\r\n", "250"))),
                Arguments.of("encoded CRLF inside an address", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("MAIL FROM:<a@b.example>\r\n", "250"),
                        Step.of("RCPT TO:<x%0d%0aRCPT TO:<evil@x.example>@example.org>\r\n", "5"))),
                Arguments.of("header injection in HELO", List.of(
                        Step.of("EHLO a\rReceived: forged\r\n", "500 5.5.2"),
                        Step.of("EHLO a\r\n", "250"))),
                Arguments.of("10,000 RCPTs pipelined: 100 accepted, the rest 452", List.of(
                        Step.of("EHLO a\r\nMAIL FROM:<a@b.example>\r\n" + manyRcpt, "RCPTS 100/10000"),
                        Step.of("DATA\r\n", "354"),
                        Step.of("Subject: x\r\n\r\nbody\r\n.\r\n", QUEUED))),
                Arguments.of("2,000 pipelined commands in one write", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of(pipelined.toString(), "REPLIES 2001"),
                        Step.of("RCPT TO:<x@example.org>\r\n", "250"))),
                Arguments.of("commands after QUIT", List.of(
                        Step.of("QUIT\r\nMAIL FROM:<a@b.example>\r\n", "221"),
                        Step.of("", "closed"))),
                Arguments.of("STARTTLS without TLS configured", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("STARTTLS\r\n", "5"))),
                Arguments.of("AUTH without TLS", List.of(
                        Step.of("EHLO a\r\n", "250"),
                        Step.of("AUTH PLAIN AHVzZXIAcGFzcw==\r\n", "5")))
        );
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("sessions")
    void abusiveSessionGetsTheExpectedRepliesAndHarmsNobody(String name, List<Step> steps) throws Exception {
        try (RawSmtp c = h.connect()) {
            for (Step s : steps) {
                if (s.send.length > 0) {
                    c.send(s.send);
                }
                if (s.expect.startsWith("RCPTS ")) {
                    expectRecipients(c, s);
                } else if (s.expect.startsWith("REPLIES ")) {
                    int n = Integer.parseInt(s.expect.substring(8));
                    for (int i = 0; i < n; i++) {
                        String r = c.reply();
                        assertTrue(r != null && r.startsWith("250"), name + ": reply " + i + " of " + n + ": " + r);
                    }
                } else if (s.expect.equals("closed")) {
                    assertTrue(c.closedByServer(), name + ": connection still open");
                } else {
                    String r = c.reply();
                    if (s.expect.equals("5 or closed")) {
                        assertTrue(r == null || r.startsWith("5"), name + ": " + s + " got " + r);
                    } else {
                        assertTrue(r != null && r.startsWith(s.expect), name + ": " + s + " got " + r);
                    }
                }
            }
        }
        try (RawSmtp ok = h.connect()) {
            ok.cmd("EHLO ok");
            assertEquals("250 2.1.0 Ok", ok.cmd("MAIL FROM:<a@b.example>"));
            assertEquals("250 2.1.5 Ok", ok.cmd("RCPT TO:<c@d.example>"));
            assertTrue(ok.cmd("DATA").startsWith("354"));
            ok.send("Subject: after " + name + "\r\n\r\nfine\r\n.\r\n");
            String r = ok.reply();
            assertTrue(r.startsWith(QUEUED), name + ": the next client was not served: " + r);
        }
    }

    /** EHLO and MAIL replies, then 10,000 RCPT replies: the first 100 are 250, the rest 452 4.5.3. */
    private static void expectRecipients(RawSmtp c, Step s) throws IOException {
        String[] want = s.expect.substring(6).split("/");
        int ok = Integer.parseInt(want[0]);
        int all = Integer.parseInt(want[1]);
        assertTrue(c.reply().startsWith("250"), "EHLO");
        assertTrue(c.reply().startsWith("250"), "MAIL");
        for (int i = 0; i < all; i++) {
            String r = c.reply();
            if (i < ok) {
                assertTrue(r.startsWith("250"), "RCPT " + i + ": " + r);
            } else {
                assertTrue(r.startsWith("452 4.5.3"), "RCPT " + i + ": " + r);
            }
        }
    }

    // ---- TLS: STARTTLS twice, AUTH guessing ----------------------------------------------------

    private IntakeHarness tlsIntake(String extra) throws Exception {
        Path cert = tls.resolve("cert.pem");
        Path key = tls.resolve("key.pem");
        if (!Files.exists(cert)) {
            writeSelfSigned(cert, key);
        }
        Path creds = tls.resolve("creds");
        Files.writeString(creds, "user:" + Credentials.hash("right-password") + "\n");
        return new IntakeHarness(new ControllableQueue(), "intake_tls_cert = \"" + cert + "\"\nintake_tls_key = \""
                + key + "\"\nintake_auth_credentials = \"" + creds + "\"\n" + extra);
    }

    @Test
    void startTlsTwiceIsRefusedAndTheSessionGoesOn() throws Exception {
        try (IntakeHarness t = tlsIntake(""); Tls c = Tls.connect(t)) {
            c.cmd("EHLO a");
            assertTrue(c.cmd("STARTTLS").startsWith("220"));
            c.upgrade();
            assertTrue(c.cmd("EHLO a").startsWith("250"));
            String again = c.cmd("STARTTLS");
            assertTrue(again.startsWith("5") || again.startsWith("454"), again);
            assertTrue(c.cmd("NOOP").startsWith("250"), "session must go on over TLS");
        }
    }

    @Test
    void authGuessingIsCutOffAndTheAddressLockedOutAndLogged() throws Exception {
        try (IntakeHarness t = tlsIntake("intake_auth_max_failures = 3\n")) {
            try (Tls c = Tls.connect(t)) {
                c.cmd("EHLO a");
                c.cmd("STARTTLS");
                c.upgrade();
                c.cmd("EHLO a");
                assertTrue(c.cmd(plain("user", "guess1")).startsWith("535"));
                assertTrue(c.cmd(plain("user", "guess2")).startsWith("535"));
                String third = c.cmd(plain("user", "guess3"));
                assertTrue(third.startsWith("421 4.7.0"), third);
                assertTrue(c.closed(), "connection must be closed after the limit");
            }
            // The address is locked out now: even the right password gets 421, unchecked.
            try (Tls c = Tls.connect(t)) {
                c.cmd("EHLO a");
                c.cmd("STARTTLS");
                c.upgrade();
                c.cmd("EHLO a");
                String r = c.cmd(plain("user", "right-password"));
                assertTrue(r.startsWith("421 4.7.0"), r);
            }
        }
    }

    @Test
    void lockoutDoublesAndEnds() {
        MutableClock clock = new MutableClock(Instant.parse("2026-01-01T00:00:00Z"));
        AuthThrottle t = new AuthThrottle(2, clock);
        t.failed("192.0.2.1");
        assertTrue(!t.locked("192.0.2.1"));
        t.failed("192.0.2.1");
        assertTrue(t.locked("192.0.2.1"));
        clock.advance(Duration.ofSeconds(3));
        assertTrue(!t.locked("192.0.2.1"), "2 s lock-out over");
        t.failed("192.0.2.1");
        clock.advance(Duration.ofSeconds(3));
        assertTrue(t.locked("192.0.2.1"), "second lock-out is 4 s");
        assertTrue(!t.locked("192.0.2.2"), "other addresses are not affected");
        t.succeeded("192.0.2.1");
        assertTrue(!t.locked("192.0.2.1"));
        assertEquals(AuthThrottle.MAX_LOCKOUT, AuthThrottle.lockout(50));
    }

    private static String plain(String user, String password) {
        return "AUTH PLAIN " + Base64.getEncoder().encodeToString(("\0" + user + "\0" + password)
                .getBytes(StandardCharsets.UTF_8));
    }

    /** A line-based client that can switch to TLS (trusting any certificate: it is our own). */
    static final class Tls implements AutoCloseable {
        private Socket socket;
        private InputStream in;
        private OutputStream out;

        static Tls connect(IntakeHarness t) throws IOException {
            return connect(t, null);
        }

        /** Connects from the local address {@code from} (a loopback address), or any when null. */
        static Tls connect(IntakeHarness t, String from) throws IOException {
            Tls c = new Tls();
            c.socket = new Socket();
            if (from != null) {
                c.socket.bind(new java.net.InetSocketAddress(from, 0));
            }
            c.socket.connect(t.address(), 5000);
            c.socket.setSoTimeout(10_000);
            c.in = c.socket.getInputStream();
            c.out = c.socket.getOutputStream();
            c.reply();
            return c;
        }

        void upgrade() throws Exception {
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(null, new TrustManager[] {new X509TrustManager() {
                public void checkClientTrusted(X509Certificate[] c, String a) { }

                public void checkServerTrusted(X509Certificate[] c, String a) { }

                public X509Certificate[] getAcceptedIssuers() {
                    return new X509Certificate[0];
                }
            }}, null);
            SSLSocket s = (SSLSocket) ctx.getSocketFactory().createSocket(socket, "localhost", socket.getPort(), true);
            s.startHandshake();
            socket = s;
            in = s.getInputStream();
            out = s.getOutputStream();
        }

        String cmd(String line) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            return reply();
        }

        String reply() throws IOException {
            while (true) {
                ByteArrayOutputStream b = new ByteArrayOutputStream();
                int ch;
                while ((ch = in.read()) >= 0 && ch != '\n') {
                    b.write(ch);
                }
                String line = b.toString(StandardCharsets.UTF_8).trim();
                if (ch < 0 && line.isEmpty()) {
                    return "closed";
                }
                if (line.length() < 4 || line.charAt(3) != '-') {
                    return line;
                }
            }
        }

        boolean closed() {
            try {
                return in.read() < 0;
            } catch (IOException e) {
                return true;
            }
        }

        @Override
        public void close() throws IOException {
            socket.close();
        }
    }

    static void writeSelfSigned(Path certFile, Path keyFile) throws Exception {
        TestCerts c = TestCerts.selfSigned("localhost");
        c.writePem(certFile);
        c.writeKeyPem(keyFile);
    }
}
