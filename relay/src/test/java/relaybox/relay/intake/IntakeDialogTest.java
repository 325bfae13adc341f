package relaybox.relay.intake;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Protocol dialogs over a real socket against the intake, with a queue double. Each test is one
 * edge case; failure messages show the reply we got.
 */
class IntakeDialogTest {

    static final int MAX = 64 * 1024;
    private static final String QUEUED = "250 2.0.0 Ok: queued as ";

    @AutoClose
    private IntakeHarness h;
    private ControllableQueue queue;

    @BeforeEach
    void start() throws Exception {
        queue = new ControllableQueue();
        h = new IntakeHarness(queue, IntakeHarness.DIALOG_LIMITS);
        h.own(queue::assertNothingOutstanding);
    }

    private QueueEntry entry(String reply) {
        assertTrue(reply.startsWith(QUEUED), reply);
        return queue.get(QueueId.parse(reply.substring(QUEUED.length()))).orElseThrow();
    }

    /** Sends one message with the given (already dot-stuffed) DATA bytes; returns the final reply. */
    private String send(RawSmtp c, String mailArgs, List<String> rcpts, byte[] data) throws Exception {
        assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:" + mailArgs));
        for (String r : rcpts) {
            assertEquals("250 2.1.5 Ok", c.cmd("RCPT TO:<" + r + ">"));
        }
        String r = c.cmd("DATA");
        assertTrue(r.startsWith("354 "), r);
        c.send(data);
        return c.reply();
    }

    private static byte[] bytes(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    @Test
    void plainMessageIsQueuedWithTheClientsBytesUnchanged() throws Exception {
        String body = "From: app@example.com\r\nTo: you@example.net\r\nSubject: hi\r\n\r\nHello.\r\n";
        try (RawSmtp c = h.connect()) {
            String ehlo = c.cmd("EHLO app.local");
            // James 3.8.1 wrote "Hello app.local [127.0.0.1])": no stray parenthesis (issue 20).
            assertTrue(ehlo.lines().findFirst().orElse("").endsWith(" Hello app.local [127.0.0.1]"), ehlo);
            for (String kw : List.of("PIPELINING", "ENHANCEDSTATUSCODES", "8BITMIME", "SIZE 65536", "SMTPUTF8")) {
                assertTrue(ehlo.contains("250-" + kw) || ehlo.contains("250 " + kw), "no " + kw + " in " + ehlo);
            }
            assertFalse(ehlo.contains("STARTTLS") || ehlo.contains("AUTH"), ehlo);
            QueueEntry e = entry(send(c, "<app@example.com>", List.of("you@example.net"), bytes(body + ".\r\n")));
            String id = e.id().value();
            assertArrayEquals(bytes(body), h.clientBytes(e));
            assertEquals("app@example.com", e.envelope().sender());
            assertEquals(List.of("you@example.net"), e.envelope().recipients());
            assertEquals("app.local", e.envelope().helo());
            assertFalse(e.envelope().smtputf8() || e.envelope().eightBit());
            String added = e.addedHeaders();
            assertTrue(added.startsWith("Received: from app.local ([127.0.0.1])\r\n\tby relay.test (relaybox) with ESMTP id "
                    + id + "\r\n\tfor <you@example.net>; "), added);
            assertTrue(added.contains("\r\nDate: ") && added.endsWith("\r\nMessage-ID: <" + id + "@relay.test>\r\n"), added);
            assertTrue(h.lines.get(0).startsWith(id + " intake queued from=<app@example.com> nrcpt=1 size="),
                    h.lines.toString());
            assertTrue(c.cmd("QUIT").startsWith("221 2.0.0"));
        }
    }

    @Test
    void dateAndMessageIdAreNotAddedWhenPresent() throws Exception {
        String body = "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nmessage-id: <x@y>\r\nFrom: a@b.example\r\n\r\nx\r\n";
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            QueueEntry e = entry(send(c, "<a@b.example>", List.of("c@d.example"), bytes(body + ".\r\n")));
            assertFalse(e.addedHeaders().contains("\r\nDate:") || e.addedHeaders().contains("Message-ID:"),
                    e.addedHeaders());
        }
    }

    @Test
    void eightBitBodyIsStoredUnchangedAndRecorded() throws Exception {
        byte[] body = bytes("Subject: caf\u00e9\r\n\r\n\u00fcber \u00e5 \u4e2d\u6587 \u00ff\r\n");
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            ByteArrayOutputStream data = new ByteArrayOutputStream();
            data.write(body);
            data.write(bytes(".\r\n"));
            QueueEntry e = entry(send(c, "<a@b.example> BODY=8BITMIME", List.of("c@d.example"), data.toByteArray()));
            assertArrayEquals(body, h.clientBytes(e));
            assertTrue(e.envelope().eightBit());
        }
    }

    @Test
    void smtputf8AddressesAreAcceptedAndRecorded() throws Exception {
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            assertTrue(c.cmd("MAIL FROM:<j\u00f6rg@b\u00fccher.example>").startsWith("553 5.6.7"));
            QueueEntry e = entry(send(c, "<j\u00f6rg@b\u00fccher.example> SMTPUTF8 BODY=8BITMIME",
                    List.of("\u7528\u6237@\u4f8b\u5b50.example"), bytes("Subject: x\r\n\r\nx\r\n.\r\n")));
            assertEquals("j\u00f6rg@b\u00fccher.example", e.envelope().sender());
            assertEquals(List.of("\u7528\u6237@\u4f8b\u5b50.example"), e.envelope().recipients());
            assertTrue(e.envelope().smtputf8());
            assertTrue(e.addedHeaders().contains(" with UTF8SMTP id "), e.addedHeaders());
        }
    }

    @Test
    void dotStuffingRoundTrip() throws Exception {
        String original = "Subject: dots\r\n\r\n.\r\n..\r\n.leading\r\nmiddle.\r\n. \r\n...\r\nend\r\n";
        StringBuilder stuffed = new StringBuilder();
        for (String line : original.split("\r\n", -1)) {
            stuffed.append(line.startsWith(".") ? "." + line : line).append("\r\n");
        }
        stuffed.setLength(stuffed.length() - 2);
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            QueueEntry e = entry(send(c, "<a@b.example>", List.of("c@d.example"), bytes(stuffed + ".\r\n")));
            assertEquals(original, new String(h.clientBytes(e), StandardCharsets.UTF_8));
        }
    }

    @Test
    void hundredRecipientsAndOneTooMany() throws Exception {
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<a@b.example>"));
            StringBuilder rcpts = new StringBuilder();
            for (int i = 0; i < 100; i++) {
                rcpts.append("RCPT TO:<r").append(i).append("@d.example>\r\n");
            }
            c.send(rcpts.toString());
            for (int i = 0; i < 100; i++) {
                assertEquals("250 2.1.5 Ok", c.reply(), "recipient " + i);
            }
            assertTrue(c.cmd("RCPT TO:<r100@d.example>").startsWith("452 4.5.3"));
            assertTrue(c.cmd("DATA").startsWith("354"));
            QueueEntry e = entry(c.cmd("Subject: many\r\n\r\nx\r\n."));
            assertEquals(100, e.envelope().recipients().size());
            assertEquals("r99@d.example", e.envelope().recipients().get(99));
            assertFalse(e.addedHeaders().contains("\tfor <"), e.addedHeaders());
        }
    }

    @Test
    void pipelinedCommandsAreAnsweredInOrder() throws Exception {
        try (RawSmtp c = h.connect()) {
            c.send("EHLO a\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nRCPT TO:<bad address>\r\n"
                    + "RCPT TO:<e@f.example>\r\nDATA\r\n");
            assertTrue(c.reply().startsWith("250-"));
            assertEquals("250 2.1.0 Ok", c.reply());
            assertEquals("250 2.1.5 Ok", c.reply());
            assertTrue(c.reply().startsWith("501 "));
            assertEquals("250 2.1.5 Ok", c.reply());
            assertTrue(c.reply().startsWith("354 "));
            // The body, its end, and the next transaction all in one write.
            c.send("Subject: one\r\n\r\n1\r\n.\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
            QueueEntry first = entry(c.reply());
            assertEquals(List.of("c@d.example", "e@f.example"), first.envelope().recipients());
            assertEquals("250 2.1.0 Ok", c.reply());
            assertEquals("250 2.1.5 Ok", c.reply());
            assertTrue(c.reply().startsWith("354 "));
            QueueEntry second = entry(c.cmd("Subject: two\r\n\r\n2\r\n.\r\nQUIT".replace("\r\nQUIT", "")));
            assertArrayEquals(bytes("Subject: two\r\n\r\n2\r\n"), h.clientBytes(second));
        }
    }

    @Test
    void sizeBoundaryExactLimitAcceptedOneByteOverRefused() throws Exception {
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            assertTrue(c.cmd("MAIL FROM:<a@b.example> SIZE=" + (MAX + 1)).startsWith("552 5.3.4"));
            byte[] exact = message(MAX);
            QueueEntry e = entry(send(c, "<a@b.example> SIZE=" + MAX, List.of("c@d.example"), withEnd(exact)));
            assertArrayEquals(exact, h.clientBytes(e));
            String over = send(c, "<a@b.example>", List.of("c@d.example"), withEnd(message(MAX + 1)));
            assertTrue(over.startsWith("552 5.3.4"), over);
            assertEquals(1, queue.list().size());
            // The session goes on.
            entry(send(c, "<a@b.example>", List.of("c@d.example"), withEnd(message(100))));
        }
    }

    /** A message of exactly n bytes: headers, then lines of 'x' ending in CRLF. */
    static byte[] message(int n) {
        byte[] b = new byte[n];
        byte[] head = bytes("Subject: size\r\n\r\n");
        System.arraycopy(head, 0, b, 0, head.length);
        for (int i = head.length; i < n; i++) {
            b[i] = (byte) ((i - head.length) % 80 == 78 ? '\r' : (i - head.length) % 80 == 79 ? '\n' : 'x');
        }
        b[n - 2] = '\r';
        b[n - 1] = '\n';
        if (b[n - 3] == '\r') {
            b[n - 3] = 'x';
        }
        return b;
    }

    static byte[] withEnd(byte[] msg) {
        byte[] out = java.util.Arrays.copyOf(msg, msg.length + 3);
        out[msg.length] = '.';
        out[msg.length + 1] = '\r';
        out[msg.length + 2] = '\n';
        return out;
    }

    @Test
    void longLineOf20000BytesArrivesIntact() throws Exception {
        String line = "x".repeat(9000) + ".." + "y".repeat(10998);
        String body = "Subject: long\r\n\r\n" + line + "\r\nafter\r\n";
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            QueueEntry e = entry(send(c, "<a@b.example>", List.of("c@d.example"), bytes(body + ".\r\n")));
            assertArrayEquals(bytes(body), h.clientBytes(e));
        }
    }

    @Test
    void overlongCommandLineGets500AndTheSessionGoesOn() throws Exception {
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            String r = c.cmd("MAIL FROM:<" + "a".repeat(10_000) + "@b.example>");
            assertTrue(r.startsWith("500 5.5.2"), r);
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<a@b.example>"));
        }
    }

    @Test
    void bareLfInDataIsRefusedAndTheConnectionClosed() throws Exception {
        assertRefusedForBareNewline("Subject: x\r\n\r\nline one\nline two\r\n.\r\n");
    }

    @Test
    void bareCrInDataIsRefusedAndTheConnectionClosed() throws Exception {
        assertRefusedForBareNewline("Subject: x\r\n\r\nline one\rline two\r\n.\r\n");
    }

    @Test
    void smugglingWithLfDotCrLfNeverEndsTheMessage() throws Exception {
        // The classic pattern: a bare-LF "end of data", then a second transaction the attacker wants run.
        assertRefusedForBareNewline("Subject: x\r\n\r\nhello\n.\r\nMAIL FROM:<evil@x.example>\r\n"
                + "RCPT TO:<victim@y.example>\r\nDATA\r\nSubject: smuggled\r\n\r\nboo\r\n.\r\n");
    }

    @Test
    void smugglingWithCrLfDotLfNeverEndsTheMessage() throws Exception {
        assertRefusedForBareNewline("Subject: x\r\n\r\nhello\r\n.\nMAIL FROM:<evil@x.example>\r\n"
                + "RCPT TO:<victim@y.example>\r\nDATA\r\nboo\r\n.\r\n");
    }

    private void assertRefusedForBareNewline(String data) throws Exception {
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            String r = send(c, "<a@b.example>", List.of("c@d.example"), bytes(data));
            assertTrue(r.startsWith("550 5.6.0") && r.contains("CRLF"), r);
            assertTrue(c.closedByServer(), "connection must be closed after a bare newline");
        }
        assertTrue(queue.list().isEmpty(), "nothing may be queued: " + queue.list());
        assertTrue(h.lines.stream().anyMatch(l -> l.contains("intake rejected") && l.contains("550 5.6.0")),
                h.lines.toString());
    }

    @Test
    void commandsEndingInBareLfAreAccepted() throws Exception {
        try (RawSmtp c = h.connect()) {
            c.send("EHLO a\n");
            assertTrue(c.reply().startsWith("250-"));
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<a@b.example>"));
        }
    }

    @Test
    void disconnectInDataDiscardsTheReservation() throws Exception {
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<a@b.example>"));
            assertEquals("250 2.1.5 Ok", c.cmd("RCPT TO:<c@d.example>"));
            assertTrue(c.cmd("DATA").startsWith("354"));
            c.send("Subject: half\r\n\r\npart");
        }
        Awaits.until(() -> queue.outstanding.get() == 0, "reservation discarded after disconnect");
        Awaits.until(() -> h.server.openTransactions() == 0, "transaction closed");
        assertTrue(queue.list().isEmpty());
    }

    @Test
    void rsetDiscardsTheReservation() throws Exception {
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<a@b.example>"));
            assertEquals(1, queue.outstanding.get());
            assertTrue(c.cmd("RSET").startsWith("250"));
            assertEquals(0, queue.outstanding.get());
        }
    }

    @Test
    void storageFullGets452AndTheSessionRecovers() throws Exception {
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            queue.full = true;
            String r = c.cmd("MAIL FROM:<a@b.example>");
            assertTrue(r.startsWith("452 4.3.1"), r);
            queue.full = false;
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<a@b.example>"));
            assertEquals("250 2.1.5 Ok", c.cmd("RCPT TO:<c@d.example>"));
            assertTrue(c.cmd("DATA").startsWith("354"));
            queue.full = true;
            r = c.cmd("Subject: x\r\n\r\nx\r\n.");
            assertTrue(r.startsWith("452 4.3.1"), r);
            assertTrue(queue.list().isEmpty());
            queue.full = false;
            entry(send(c, "<a@b.example>", List.of("c@d.example"), bytes("Subject: y\r\n\r\ny\r\n.\r\n")));
        }
    }

    @Test
    void otherStorageErrorGets451() throws Exception {
        queue.beforeAccept = in -> {
            throw new IllegalStateException("test: store broken");
        };
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            String r = send(c, "<a@b.example>", List.of("c@d.example"), bytes("Subject: y\r\n\r\ny\r\n.\r\n"));
            assertTrue(r.startsWith("451 4.3.0"), r);
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<a@b.example>"));
        }
    }

    @Test
    void clientOutsideTheNetworksIsRefusedWith554() throws Exception {
        h.close();
        queue = new ControllableQueue();
        h = new IntakeHarness(queue, "intake_networks = [\"10.0.0.0/8\"]\n");
        h.own(queue::assertNothingOutstanding);
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<a@b.example>"));
            String r = c.cmd("RCPT TO:<c@d.example>");
            assertEquals("554 5.7.1 <c@d.example>: Relay access denied", r);
            assertTrue(c.cmd("RCPT TO:<postmaster>").startsWith("554 5.7.1"));
            assertTrue(c.cmd("DATA").startsWith("554 5.5.1"));
        }
        assertEquals("- intake rejected from=<a@b.example> to=<c@d.example> client=127.0.0.1 "
                + "reply=\"554 5.7.1 <c@d.example>: Relay access denied\"", h.lines.get(0));
    }

    @Test
    void mailBeforeEhloAndUnknownParametersAreRefused() throws Exception {
        try (RawSmtp c = h.connect()) {
            assertTrue(c.cmd("MAIL FROM:<a@b.example>").startsWith("503 5.5.1"));
            c.cmd("EHLO a");
            assertTrue(c.cmd("MAIL FROM:<a@b.example> RET=FULL").startsWith("555 5.5.4"));
            assertTrue(c.cmd("MAIL FROM:a@b.example").startsWith("501 5.5.4"));
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<>"));
            assertTrue(c.cmd("RCPT TO:<c@d.example> NOTIFY=NEVER").startsWith("555 5.5.4"));
        }
    }
}
