package relaybox.relay.intake;

import org.junit.jupiter.api.Test;
import relaybox.queue.QueueEntry;
import relaybox.relay.dkim.MessageSigner;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The signer sees exactly the stored bytes; its refusals; connection limits and timeouts. */
class IntakeSigningAndLimitsTest {

    /** A signer that records what it was given and answers as told. */
    static final class RecordingSigner implements MessageSigner {
        final ByteArrayOutputStream seen = new ByteArrayOutputStream();
        final AtomicReference<String> addedSeen = new AtomicReference<>();
        volatile SigningException failWith;

        @Override
        public Signing begin(String envelopeSender) {
            seen.reset();
            return new Signing() {
                @Override
                public void update(byte[] b, int off, int len) {
                    seen.write(b, off, len);
                }

                @Override
                public String finish(String addedHeaders) throws SigningException {
                    addedSeen.set(addedHeaders);
                    if (failWith != null) {
                        throw failWith;
                    }
                    return "DKIM-Signature: v=1; a=ed25519-sha256; d=example.com; s=s1;\r\n\tb=abc\r\n";
                }

                @Override
                public java.util.List<SignedBy> signedBy() {
                    // The log takes who signed from the signer, never from the header text.
                    return java.util.List.of(new SignedBy("example.com", "s1"));
                }
            };
        }
    }

    private static String send(RawSmtp c, String body) throws Exception {
        c.cmd("EHLO a");
        c.cmd("MAIL FROM:<a@b.example>");
        c.cmd("RCPT TO:<c@d.example>");
        c.cmd("DATA");
        return c.cmd(body + ".");
    }

    @Test
    void signerGetsTheStoredBytesAndItsSignatureGoesFirst() throws Exception {
        RecordingSigner signer = new RecordingSigner();
        ControllableQueue q = new ControllableQueue();
        try (IntakeHarness h = new IntakeHarness(q, "", signer); RawSmtp c = h.connect()) {
            String body = "From: x@example.com\r\n\r\n..dot\r\n" + "w".repeat(100_000) + "\r\n";
            String r = send(c, body.replace("\r\n..dot", "\r\n...dot"));
            assertTrue(r.startsWith("250 2.0.0"), r);
            QueueEntry e = q.list().get(0);
            assertArrayEquals(h.clientBytes(e), signer.seen.toByteArray());
            assertEquals(body, new String(signer.seen.toByteArray(), StandardCharsets.US_ASCII));
            assertTrue(e.addedHeaders().startsWith("DKIM-Signature: v=1;"), e.addedHeaders());
            assertTrue(e.addedHeaders().endsWith(signer.addedSeen.get()), e.addedHeaders());
            assertTrue(h.lines.get(0).endsWith(" dkim=example.com/s1"), h.lines.get(0));
        }
    }

    @Test
    void signingRefusalsArePermanentOrTemporary() throws Exception {
        RecordingSigner signer = new RecordingSigner();
        ControllableQueue q = new ControllableQueue();
        try (IntakeHarness h = new IntakeHarness(q, "", signer)) {
            signer.failWith = new MessageSigner.SigningException("no key for domain",
                    MessageSigner.SigningException.Reason.NO_KEY, null);
            try (RawSmtp c = h.connect()) {
                assertTrue(send(c, "Subject: x\r\n\r\nx\r\n").startsWith("550 5.7.1"));
            }
            signer.failWith = new MessageSigner.SigningException("key file unreadable",
                    MessageSigner.SigningException.Reason.ERROR, null);
            try (RawSmtp c = h.connect()) {
                assertTrue(send(c, "Subject: x\r\n\r\nx\r\n").startsWith("451 4.3.0"));
            }
            assertTrue(q.list().isEmpty());
            assertEquals(0, q.outstanding.get());
        }
    }

    @Test
    void connectionsOverTheLimitGet421() throws Exception {
        // The per-client limit holds for clients outside intake_networks: here 127.0.0.1 is one.
        try (IntakeHarness h = new IntakeHarness(new ControllableQueue(),
                "intake_max_connections_per_client = 2\nintake_networks = [\"10.0.0.0/8\"]\n");
             RawSmtp a = h.connect(); RawSmtp b = h.connect(); RawSmtp c = new RawSmtp(h.address())) {
            String r = c.reply();
            assertTrue(r.startsWith("421 4.7.0"), r);
            assertTrue(c.closedByServer());
            a.close();
            Awaits.until(() -> h.server.openConnections() == 1, "closed connection released");
            try (RawSmtp d = h.connect()) {
                assertTrue(d.cmd("NOOP").startsWith("250"));
            }
        }
    }

    @Test
    void silentClientIsDisconnectedWith421() throws Exception {
        // A 1 s command timeout; the test waits for the server's move with a deadline, it does not time it.
        try (IntakeHarness h = new IntakeHarness(new ControllableQueue(), "", MessageSigner.NONE, "127.0.0.1",
                "intake_command_timeout = \"1s\"\n"); RawSmtp c = h.connect()) {
            assertTrue(c.cmd("EHLO a").startsWith("250"));
            String r = c.reply();
            assertTrue(r != null && r.startsWith("421 4.4.2"), r);
            assertTrue(c.closedByServer());
        }
    }
}
