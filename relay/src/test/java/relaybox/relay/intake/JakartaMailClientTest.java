package relaybox.relay.intake;

import jakarta.mail.Message;
import jakarta.mail.Session;
import jakarta.mail.Transport;
import jakarta.mail.internet.InternetAddress;
import jakarta.mail.internet.MimeMessage;
import org.junit.jupiter.api.Test;
import relaybox.queue.QueueEntry;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Angus Mail (Jakarta Mail), a real Java SMTP client, sending 8-bit UTF-8 mail to SMTPUTF8 addresses. */
class JakartaMailClientTest {

    @Test
    void utf8MessageToUtf8AddressesIsQueued() throws Exception {
        ControllableQueue q = new ControllableQueue();
        try (IntakeHarness h = new IntakeHarness(q, "")) {
            Properties p = new Properties();
            p.put("mail.smtp.host", "127.0.0.1");
            p.put("mail.smtp.port", String.valueOf(h.address().getPort()));
            p.put("mail.smtp.localhost", "jakarta.test");
            p.put("mail.mime.allowutf8", "true");
            p.put("mail.smtp.allow8bitmime", "true");
            p.put("mail.smtp.timeout", "10000");
            Session session = Session.getInstance(p);
            MimeMessage m = new MimeMessage(session);
            m.setFrom(new InternetAddress("j\u00f6rg@b\u00fccher.example"));
            m.setRecipient(Message.RecipientType.TO, new InternetAddress("\u7528\u6237@\u4f8b\u5b50.example"));
            m.setSubject("Gr\u00fc\u00dfe", "UTF-8");
            m.setText("Sch\u00f6ne Gr\u00fc\u00dfe\n.\n..\n", "UTF-8", "plain");
            m.setHeader("Content-Transfer-Encoding", "8bit");
            Transport.send(m);
            assertEquals(1, q.list().size());
            QueueEntry e = q.list().get(0);
            assertTrue(e.envelope().smtputf8(), "Angus should have asked for SMTPUTF8");
            assertEquals("j\u00f6rg@b\u00fccher.example", e.envelope().sender());
            assertEquals(List.of("\u7528\u6237@\u4f8b\u5b50.example"), e.envelope().recipients());
            String stored = new String(h.clientBytes(e), StandardCharsets.UTF_8);
            assertTrue(stored.contains("Sch\u00f6ne Gr\u00fc\u00dfe\r\n.\r\n..\r\n"), stored);
            assertTrue(stored.contains("Date: "), "Angus adds a Date:, so we do not: " + e.addedHeaders());
            assertTrue(!e.addedHeaders().contains("\r\nDate:"), e.addedHeaders());
        }
    }
}
