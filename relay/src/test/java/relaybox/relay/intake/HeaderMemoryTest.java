package relaybox.relay.intake;

import org.junit.jupiter.api.Test;
import relaybox.relay.dkim.MessageSigner;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The heap budget for header sections ({@code intake_header_memory}): a message whose header
 * section finds it used up by other sessions gets 452 4.3.1, the others are unaffected, and the
 * budget is given back when a message ends.
 */
class HeaderMemoryTest {

    /** Holds every byte it is given, as the DKIM signer holds a header section. */
    private static final MessageSigner HOLDING = sender -> new MessageSigner.Signing() {
        private byte[] held = new byte[0];
        private int n;
        private boolean done;

        @Override
        public void update(byte[] b, int off, int len) {
            if (n + len > held.length) {
                held = java.util.Arrays.copyOf(held, Math.max(2 * held.length, n + len));
            }
            System.arraycopy(b, off, held, n, len);
            n += len;
        }

        @Override
        public String finish(String addedHeaders) {
            done = true;
            held = new byte[0];
            return "";
        }

        @Override
        public long heldBytes() {
            return done ? 0 : held.length;
        }
    };

    private static String header(int bytes) {
        StringBuilder b = new StringBuilder("From: a@example.com\r\nSubject: big\r\n");
        while (b.length() < bytes) {
            b.append("X-Filler: ").append("x".repeat(90)).append("\r\n");
        }
        return b.toString();
    }

    private static void startMessage(RawSmtp c) throws Exception {
        assertTrue(c.cmd("EHLO a").startsWith("250"));
        assertTrue(c.cmd("MAIL FROM:<a@example.com>").startsWith("250"));
        assertTrue(c.cmd("RCPT TO:<b@example.com>").startsWith("250"));
        assertTrue(c.cmd("DATA").startsWith("354"));
    }

    @Test
    void aHeaderSectionThatFindsTheBudgetUsedUpGets452AndTheOthersGoOn() throws Exception {
        ControllableQueue queue = new ControllableQueue();
        try (IntakeHarness h = new IntakeHarness(queue, "intake_header_memory = \"2MiB\"\n", HOLDING);
             RawSmtp a = h.connect(); RawSmtp b = h.connect()) {
            startMessage(a);
            a.send(header(1100 << 10));
            Awaits.until(() -> h.server.headerMemoryUsed() >= 1100 << 10, "the first session holds its header section");
            System.out.println("HeaderMemoryTest: held by the first session " + h.server.headerMemoryUsed());
            startMessage(b);
            String refused = b.cmd(header(1100 << 10) + "\r\nbody\r\n.");
            assertTrue(refused.startsWith("452 4.3.1"), refused);
            String accepted = a.cmd("\r\nbody\r\n.");
            assertTrue(accepted.startsWith("250"), accepted);
            // Given back when the transaction ends, which may come just after the 250 is written.
            Awaits.until(() -> h.server.headerMemoryUsed() == 0, "the budget is given back when a message ends");
            // The session that was refused tries again, and now there is room.
            assertTrue(b.cmd("MAIL FROM:<a@example.com>").startsWith("250"));
            assertTrue(b.cmd("RCPT TO:<b@example.com>").startsWith("250"));
            assertTrue(b.cmd("DATA").startsWith("354"));
            String again = b.cmd(header(1100 << 10) + "\r\nbody\r\n.");
            assertTrue(again.startsWith("250"), again);
            assertEquals(2, queue.list().size());
        }
    }
}
