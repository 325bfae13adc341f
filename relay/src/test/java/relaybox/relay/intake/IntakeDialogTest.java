package relaybox.relay.intake;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import relaybox.queue.QueueEntry;
import relaybox.queue.memory.InMemoryQueue;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Protocol dialogs over a real socket against the intake with an in-memory queue. */
class IntakeDialogTest {

    private IntakeHarness h;

    @BeforeEach
    void start() throws Exception {
        h = new IntakeHarness(new InMemoryQueue(), "intake_max_message_size = \"64KiB\"\n");
    }

    @AfterEach
    void stop() {
        h.close();
    }

    @Test
    void plainMessageIsQueuedWithTheClientsBytesUnchanged() throws Exception {
        String body = "From: app@example.com\r\nTo: you@example.net\r\nSubject: hi\r\n\r\nHello.\r\n";
        try (RawSmtp c = h.connect()) {
            String ehlo = c.cmd("EHLO app.local");
            assertTrue(ehlo.contains("250-PIPELINING") && ehlo.contains("SMTPUTF8") && ehlo.contains("8BITMIME")
                    && ehlo.contains("SIZE 65536") && ehlo.contains("ENHANCEDSTATUSCODES"), ehlo);
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<app@example.com>"));
            assertEquals("250 2.1.5 Ok", c.cmd("RCPT TO:<you@example.net>"));
            assertTrue(c.cmd("DATA").startsWith("354 "));
            String r = c.cmd(body + ".");
            assertTrue(r.startsWith("250 2.0.0 Ok: queued as "), r);
            String id = r.substring("250 2.0.0 Ok: queued as ".length());
            QueueEntry e = h.queue.get(relaybox.queue.QueueId.parse(id)).orElseThrow();
            assertArrayEquals(body.getBytes(StandardCharsets.UTF_8), h.clientBytes(e));
            assertEquals("app@example.com", e.envelope().sender());
            assertEquals(List.of("you@example.net"), e.envelope().recipients());
            assertEquals("app.local", e.envelope().helo());
            String added = e.addedHeaders();
            assertTrue(added.startsWith("Received: from app.local ([127.0.0.1])\r\n\tby relay.test (relaybox) with ESMTP id "
                    + id + "\r\n\tfor <you@example.net>; "), added);
            assertTrue(added.contains("\r\nDate: ") && added.contains("\r\nMessage-ID: <" + id + "@relay.test>\r\n"), added);
            assertTrue(h.mailLog.get(0).startsWith(id + " intake queued from=<app@example.com> nrcpt=1 "), h.mailLog.toString());
            assertTrue(c.cmd("QUIT").startsWith("221 2.0.0"));
        }
    }
}
