package relaybox.relay.forward;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Base64;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The fake ESP's provider dialects answer as the providers do, checked with a plain socket
 * client: tests that rely on them (presets, provider replies) test relaybox, not the fake.
 */
class FakeEspDialectTest {

    /** A minimal SMTP client: one line out, the whole (multi-line) reply back. */
    private static final class Client implements AutoCloseable {
        final Socket s;
        final BufferedReader in;
        final OutputStream out;

        Client(FakeEsp esp) throws IOException {
            s = new Socket(InetAddress.getLoopbackAddress(), esp.port());
            s.setSoTimeout(5000);
            in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            out = s.getOutputStream();
            reply();
        }

        String cmd(String line) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            return reply();
        }

        String reply() throws IOException {
            StringBuilder b = new StringBuilder();
            String l;
            do {
                l = in.readLine();
                b.append(l).append('\n');
            } while (l != null && l.length() > 3 && l.charAt(3) == '-');
            return b.toString().trim();
        }

        String login(String user, String password) throws IOException {
            cmd("AUTH LOGIN");
            cmd(b64(user));
            return cmd(b64(password));
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }

    private static String b64(String s) {
        return Base64.getEncoder().encodeToString(s.getBytes(StandardCharsets.UTF_8));
    }

    @Test
    void microsoftOffersLoginAndXoauth2CapsConnectionsAndScriptsItsReplies() throws Exception {
        try (FakeEsp esp = new FakeEsp().dialect(FakeEsp.Dialect.MICROSOFT).start()) {
            List<Client> held = new ArrayList<>();
            try {
                for (int i = 0; i < 3; i++) {
                    Client c = new Client(esp);
                    held.add(c);
                    String ehlo = c.cmd("EHLO client.test");
                    assertTrue(ehlo.contains("250-AUTH LOGIN XOAUTH2\n"), ehlo);
                    assertTrue(c.login("user", "secret").startsWith("235"));
                }
                try (Client fourth = new Client(esp)) {
                    fourth.cmd("EHLO client.test");
                    assertEquals(FakeEsp.MS_CONCURRENCY, fourth.login("user", "secret"));
                    assertTrue(fourth.cmd("AUTH PLAIN " + b64("\0user\0secret")).startsWith("5"),
                            "no PLAIN at Microsoft");
                }
                assertEquals(1, esp.concurrencyRefusals.get());
                held.remove(0).close();
                // The closed connection's place is free again (the fake notices the close).
                long end = System.currentTimeMillis() + 5000;
                String again = "";
                while (System.currentTimeMillis() < end && !again.startsWith("235")) {
                    try (Client c = new Client(esp)) {
                        c.cmd("EHLO client.test");
                        again = c.login("user", "secret");
                    }
                }
                assertTrue(again.startsWith("235"), again);

                esp.reply("AUTH", FakeEsp.MS_AUTH_DISABLED, 1);
                esp.reply("MAIL", FakeEsp.msSenderThrottled(3), 1);
                try (Client c = new Client(esp)) {
                    c.cmd("EHLO client.test");
                    assertTrue(c.cmd("AUTH LOGIN").startsWith("535 5.7.139 "));
                    assertTrue(c.login("user", "secret").startsWith("235"));
                    assertTrue(c.cmd("MAIL FROM:<a@corp.example>").startsWith("550 5.2.253 Sender throttled"));
                }
            } finally {
                for (Client c : held) {
                    c.close();
                }
            }
        }
    }

    @Test
    void googleTakes100RecipientsPerTransactionAndScriptsItsReplies() throws Exception {
        try (FakeEsp esp = new FakeEsp().dialect(FakeEsp.Dialect.GOOGLE).start(); Client c = new Client(esp)) {
            String ehlo = c.cmd("EHLO client.test");
            assertTrue(ehlo.contains("250-AUTH PLAIN XOAUTH2\n"), ehlo);
            assertTrue(c.cmd("AUTH PLAIN " + b64("\0user\0secret")).startsWith("235"));
            assertTrue(c.cmd("MAIL FROM:<a@corp.example>").startsWith("250"));
            for (int i = 0; i < 100; i++) {
                assertTrue(c.cmd("RCPT TO:<r" + i + "@x.example>").startsWith("250"));
            }
            assertEquals(FakeEsp.GOOGLE_TOO_MANY_RECIPIENTS, c.cmd("RCPT TO:<r100@x.example>"));
            assertTrue(c.cmd("RSET").startsWith("250"));
            esp.reply("MAIL", FakeEsp.GOOGLE_PEAK, 1);
            esp.reply("RCPT", FakeEsp.GOOGLE_DAILY, 1);
            assertTrue(c.cmd("MAIL FROM:<a@corp.example>").startsWith("450 4.2.1 "));
            assertTrue(c.cmd("MAIL FROM:<a@corp.example>").startsWith("250"));
            assertTrue(c.cmd("RCPT TO:<r0@x.example>").startsWith("550 5.4.5 "));
            assertEquals(1, esp.tooManyRecipients.get());
        }
    }
}
