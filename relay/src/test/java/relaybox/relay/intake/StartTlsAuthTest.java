package relaybox.relay.intake;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.memory.InMemoryQueue;
import relaybox.relay.forward.TestCerts;

import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLSocket;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509TrustManager;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.cert.X509Certificate;
import java.util.Base64;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * STARTTLS from PEM files, AUTH only after STARTTLS, and relaying for authenticated clients from
 * outside intake_networks (here: loopback is deliberately not in the networks).
 */
class StartTlsAuthTest {

    @TempDir
    Path dir;

    private IntakeHarness start() throws Exception {
        Path[] pem = TestCerts.write(dir);
        Path creds = dir.resolve("credentials");
        Files.writeString(creds, "# test users\napp:" + Credentials.hash("s3cret pass") + "\n");
        return new IntakeHarness(new InMemoryQueue(), "intake_networks = [\"10.0.0.0/8\"]\n"
                + "intake_tls_cert = \"" + pem[0] + "\"\nintake_tls_key = \"" + pem[1] + "\"\n"
                + "intake_auth_credentials = \"" + creds + "\"\n");
    }

    @Test
    void authIsRefusedBeforeStartTlsAndWorksAfter() throws Exception {
        try (IntakeHarness h = start()) {
            Socket plain = new Socket("127.0.0.1", h.address().getPort());
            plain.setSoTimeout(10_000);
            Line c = new Line(plain);
            assertTrue(c.reply().startsWith("220 "));
            String ehlo = c.cmd("EHLO client.test");
            assertTrue(ehlo.contains("250-STARTTLS") || ehlo.contains("250 STARTTLS"), ehlo);
            assertFalse(ehlo.contains("AUTH"), "AUTH must not be offered in the clear: " + ehlo);
            String plainAuth = Base64.getEncoder().encodeToString("\0app\0s3cret pass".getBytes(StandardCharsets.UTF_8));
            assertTrue(c.cmd("AUTH PLAIN " + plainAuth).startsWith("530 5.7.0"));
            assertTrue(c.cmd("MAIL FROM:<a@b.example>").startsWith("250"));
            assertTrue(c.cmd("RCPT TO:<c@d.example>").startsWith("554 5.7.1"));
            assertTrue(c.cmd("RSET").startsWith("250"));
            assertTrue(c.cmd("STARTTLS").startsWith("220 "));

            SSLSocket tls = (SSLSocket) trustAll().getSocketFactory().createSocket(plain, "relay.test",
                    h.address().getPort(), true);
            tls.startHandshake();
            Line t = new Line(tls);
            String ehlo2 = t.cmd("EHLO client.test");
            assertTrue(ehlo2.contains("AUTH LOGIN PLAIN"), ehlo2);
            assertFalse(ehlo2.contains("STARTTLS"), ehlo2);
            String bad = Base64.getEncoder().encodeToString("\0app\0wrong".getBytes(StandardCharsets.UTF_8));
            assertTrue(t.cmd("AUTH PLAIN " + bad).startsWith("535 5.7.8"));
            assertTrue(t.cmd("AUTH PLAIN " + plainAuth).startsWith("235 "));
            assertTrue(t.cmd("MAIL FROM:<a@b.example>").startsWith("250"));
            assertTrue(t.cmd("RCPT TO:<c@d.example>").startsWith("250"));
            assertTrue(t.cmd("DATA").startsWith("354"));
            String r = t.cmd("Subject: tls\r\n\r\nx\r\n.");
            assertTrue(r.startsWith("250 2.0.0 Ok: queued as "), r);
            var e = h.queue.list().get(0);
            assertEquals("app", e.envelope().authUser());
            assertTrue(e.addedHeaders().contains(" with ESMTPSA id "), e.addedHeaders());
            assertTrue(h.lines.stream().anyMatch(l -> l.contains(" intake queued ") && l.contains(" tls=TLSv1.")),
                    h.lines.toString());
            tls.close();
        }
    }

    @Test
    void commandsPipelinedBehindStartTlsCloseTheConnection() throws Exception {
        try (IntakeHarness h = start()) {
            try (RawSmtp c = h.connect()) {
                c.cmd("EHLO a");
                c.send("STARTTLS\r\nMAIL FROM:<injected@x.example>\r\n");
                String r = c.reply();
                assertTrue(r == null || r.startsWith("220"), r);
                assertTrue(c.closedByServer(), "plain-text commands after STARTTLS must not be run");
            }
        }
    }

    private static SSLContext trustAll() throws Exception {
        SSLContext ctx = SSLContext.getInstance("TLS");
        ctx.init(null, new TrustManager[] {new X509TrustManager() {
            @Override
            public void checkClientTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public void checkServerTrusted(X509Certificate[] chain, String authType) {
            }

            @Override
            public X509Certificate[] getAcceptedIssuers() {
                return new X509Certificate[0];
            }
        }}, null);
        return ctx;
    }

    /** Minimal line client over any socket (plain or TLS). */
    private static final class Line {
        private final BufferedReader in;
        private final OutputStream out;

        Line(Socket s) throws Exception {
            in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            out = s.getOutputStream();
        }

        String reply() throws Exception {
            StringBuilder b = new StringBuilder();
            String l;
            while ((l = in.readLine()) != null) {
                b.append(b.length() > 0 ? "\n" : "").append(l);
                if (l.length() < 4 || l.charAt(3) != '-') {
                    break;
                }
            }
            return b.toString();
        }

        String cmd(String line) throws Exception {
            out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            return reply();
        }
    }
}
