package relaybox.relay.local;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The streaming stage: the same result however the bytes are split, bounded memory, body untouched. */
class HeaderQualifierTest {

    private static String run(String message, long seed) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        HeaderQualifier q = new HeaderQualifier("host.example", out::write);
        byte[] b = message.getBytes(StandardCharsets.ISO_8859_1);
        Random r = new Random(seed);
        for (int i = 0; i < b.length; ) {
            int n = Math.min(b.length - i, 1 + r.nextInt(40));
            q.write(b, i, n);
            i += n;
        }
        q.finish();
        return out.toString(StandardCharsets.ISO_8859_1);
    }

    @Test
    void cronsMessageIsQualifiedInEverySplit() {
        String in = "From: root (Cron Daemon)\r\nTo: root\r\nSubject: Cron <root@h> run-parts\r\n"
                + "Cc: a@x.example,\r\n\twww-data\r\nX-Cron-Env: <SHELL=/bin/sh>\r\n\r\n"
                + "To: root\r\nbody line\r\n";
        String want = "From: root@host.example (Cron Daemon)\r\nTo: root@host.example\r\n"
                + "Subject: Cron <root@h> run-parts\r\nCc: a@x.example,\r\n\twww-data@host.example\r\n"
                + "X-Cron-Env: <SHELL=/bin/sh>\r\n\r\nTo: root\r\nbody line\r\n";
        for (long seed = 0; seed < 200; seed++) {
            assertEquals(want, run(in, seed), "seed " + seed);
        }
    }

    @Test
    void aMessageWithoutBareNamesPassesByteForByte() {
        byte[] b = new byte[5000];
        new Random(3).nextBytes(b);
        String body = new String(b, StandardCharsets.ISO_8859_1);
        String in = "From: a@x.example\r\nTo: \"B\" <b@y.example>\r\nSubject: \u00e9t\u00e9\r\n\r\n" + body;
        assertEquals(in, run(in, 1));
    }

    @Test
    void aHugeAddressFieldIsPassedOnUnchanged() {
        StringBuilder to = new StringBuilder("To: root");
        while (to.length() < HeaderQualifier.MAX_FIELD + 1000) {
            to.append(",\r\n a@x.example");
        }
        String in = to + "\r\nFrom: root\r\n\r\nbody\r\n";
        String out = run(in, 7);
        assertEquals(to + "\r\nFrom: root@host.example\r\n\r\nbody\r\n", out);
    }

    @Test
    void aHeaderOnlyMessageWithoutFinalNewlineIsKept() {
        assertEquals("To: root@host.example", run("To: root", 2));
        assertTrue(run("no header line\r\nTo: root\r\n", 2).endsWith("To: root\r\n"));
    }
}
