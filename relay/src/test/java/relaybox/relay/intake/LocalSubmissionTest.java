package relaybox.relay.intake;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.relay.config.LocalMailConfig.BareNewline;
import relaybox.relay.local.LocalNames;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The intake as the host's MTA, over a real socket: bare local names in MAIL, RCPT and the
 * From/To/Cc fields are qualified with local_domain and aliased, and in normalize mode a trusted
 * client's bare LFs are stored as CRLF while every smuggling terminator still neither ends nor
 * splits a message.
 */
class LocalSubmissionTest {

    private static final String QUEUED = "250 2.0.0 Ok: queued as ";
    private ControllableQueue queue;
    @AutoClose
    private IntakeHarness h;

    @BeforeEach
    void start() throws Exception {
        queue = new ControllableQueue();
        h = new IntakeHarness(queue, "intake_max_message_size = \"64KiB\"\n");
        h.own(queue::assertNothingOutstanding);
        h.server.localMail(new LocalNames("host.example", Map.of(
                "root", List.of("ops@corp.example"), "postmaster", List.of("root"))), BareNewline.NORMALIZE);
    }

    private QueueEntry entry(String reply) {
        assertTrue(reply.startsWith(QUEUED), reply);
        return queue.get(QueueId.parse(reply.substring(QUEUED.length()))).orElseThrow();
    }

    @Test
    void cronsBareNamesAreQualifiedAndAliasedInTheEnvelopeAndHeaders() throws Exception {
        String body = "From: root (Cron Daemon)\r\nTo: root\r\nSubject: Cron <root@h> true\r\n"
                + "X-Cron-Env: <LOGNAME=root>\r\n\r\nTo: root stays in the body\r\n";
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO localhost");
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<root> BODY=8BITMIME"));
            assertEquals("250 2.1.5 Ok", c.cmd("RCPT TO:<root>"));
            assertEquals("250 2.1.5 Ok", c.cmd("RCPT TO:<postmaster@localhost>"));
            assertEquals("250 2.1.5 Ok", c.cmd("RCPT TO:<www-data>"));
            assertTrue(c.cmd("DATA").startsWith("354"));
            QueueEntry e = entry(c.cmd(body + "."));
            assertEquals("root@host.example", e.envelope().sender());
            assertEquals(List.of("ops@corp.example", "www-data@host.example"), e.envelope().recipients());
            assertEquals("From: root@host.example (Cron Daemon)\r\nTo: root@host.example\r\n"
                            + "Subject: Cron <root@h> true\r\nX-Cron-Env: <LOGNAME=root>\r\n\r\n"
                            + "To: root stays in the body\r\n",
                    new String(h.clientBytes(e), StandardCharsets.ISO_8859_1));
        }
    }

    @Test
    void pythonSmtplibLfOnlyBytesAreStoredWithCrlf() throws Exception {
        // smtplib.SMTP.sendmail(f, t, msg.as_bytes()): LF lines, dots stuffed after every LF, then CRLF.CRLF.
        String sent = "From: app@x.example\nTo: you@y.example\nSubject: lf\n\nline\n..dot\n\r\n.\r\n";
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<app@x.example>"));
            assertEquals("250 2.1.5 Ok", c.cmd("RCPT TO:<you@y.example>"));
            assertTrue(c.cmd("DATA").startsWith("354"));
            c.send(sent.getBytes(StandardCharsets.US_ASCII));
            QueueEntry e = entry(c.reply());
            assertEquals("From: app@x.example\r\nTo: you@y.example\r\nSubject: lf\r\n\r\nline\r\n.dot\r\n\r\n",
                    new String(h.clientBytes(e), StandardCharsets.US_ASCII));
            assertTrue(c.cmd("NOOP").startsWith("250 2.0.0"), "the session goes on");
        }
    }

    @Test
    void rejectModeStillRefusesBareLf() throws Exception {
        h.server.localMail(LocalNames.NONE, BareNewline.REJECT);
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            c.cmd("MAIL FROM:<a@x.example>");
            c.cmd("RCPT TO:<b@y.example>");
            c.cmd("DATA");
            String r = c.cmd("Subject: x\n\nbody\r\n.");
            assertTrue(r.startsWith("550 5.6.0"), r);
        }
    }

    /** Every bare CR/LF "end of data" variant of the SMTP smuggling research (SEC Consult, 2023). */
    static Stream<String> terminators() {
        return Stream.of("\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r.\r\n", "\r\n.\r", "\n.\r", "\r.\n",
                "\r\n\u0000.\r\n", "\r\n.\u0000\r\n", "\n\n.\n\n", "\r\n.\n\r\n", "\n.\n.\r\n");
    }

    @ParameterizedTest(name = "{index}")
    @MethodSource("terminators")
    void noTerminatorVariantEndsOrSplitsAMessageInNormalizeMode(String terminator) throws Exception {
        String smuggled = "MAIL FROM:<evil@attacker.example>\r\nRCPT TO:<victim@y.example>\r\nDATA\r\n"
                + "Subject: smuggled\r\n\r\nboo\r\n";
        String data = "Subject: x\r\n\r\nhello" + terminator + smuggled + ".\r\n";
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<a@x.example>"));
            assertEquals("250 2.1.5 Ok", c.cmd("RCPT TO:<b@y.example>"));
            assertTrue(c.cmd("DATA").startsWith("354"));
            c.send(data.getBytes(StandardCharsets.ISO_8859_1));
            String r = c.reply();
            boolean bareCr = terminator.replace("\r\n", "").contains("\r");
            if (bareCr) {
                assertTrue(r.startsWith("550 5.6.0"), r);
                assertTrue(c.closedByServer());
                assertTrue(queue.list().isEmpty());
                return;
            }
            QueueEntry e = entry(r);
            String stored = new String(h.clientBytes(e), StandardCharsets.ISO_8859_1);
            assertTrue(stored.contains("MAIL FROM:<evil@attacker.example>\r\n"), "smuggled text stays body: " + stored);
            assertFalse(stored.replace("\r\n", "").contains("\n") || stored.replace("\r\n", "").contains("\r"),
                    "no bare CR or LF is stored");
            assertEquals(1, queue.list().size(), "exactly one message");
            assertTrue(c.cmd("NOOP").startsWith("250 2.0.0"), "nothing after the dot was taken as a command");
        }
    }
}
