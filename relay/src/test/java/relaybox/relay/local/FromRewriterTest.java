package relaybox.relay.local;

import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * The From: rewrite, fed in every split of the message (a seeded random one printed, and every
 * single cut point): what changes and that nothing else does.
 */
class FromRewriterTest {

    private static final String ID = "Alerts <alerts@verified.example>";

    /** The output for {@code in} cut at {@code cut} (and again at random points from {@code seed}). */
    private static String rewrite(String in, int cut, long seed) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        FromRewriter r = new FromRewriter(ID, out::write);
        byte[] b = in.getBytes(StandardCharsets.UTF_8);
        Random rnd = new Random(seed);
        int i = 0;
        int first = Math.min(cut, b.length);
        r.write(b, 0, first);
        i = first;
        while (i < b.length) {
            int n = Math.min(b.length - i, 1 + rnd.nextInt(7));
            r.write(b, i, n);
            i += n;
        }
        r.finish();
        return out.toString(StandardCharsets.UTF_8);
    }

    private static void check(String in, String want) {
        long seed = new Random().nextLong();
        for (int cut = 0; cut <= in.length(); cut++) {
            assertEquals(want, rewrite(in, cut, seed), "cut at " + cut + ", seed " + seed);
        }
    }

    @Test
    void fromIsReplacedAndKeptInAReplyToAtTheEndOfTheHeader() {
        check("Subject: s\r\nFrom: Cron Daemon\r\n\t<cron@app.example>\r\nTo: t@x.example\r\n\r\nFrom: body line\r\n",
                "Subject: s\r\nFrom: " + ID + "\r\nTo: t@x.example\r\nReply-To: Cron Daemon\r\n\t<cron@app.example>\r\n"
                        + "\r\nFrom: body line\r\n");
    }

    @Test
    void anExistingReplyToIsKeptAndNoSecondOneAdded() {
        check("reply-to: desk@app.example\r\nFROM: cron@app.example\r\n\r\nbody\r\n",
                "reply-to: desk@app.example\r\nFrom: " + ID + "\r\n\r\nbody\r\n");
        check("From: cron@app.example\r\nReply-To: desk@app.example\r\n\r\nbody\r\n",
                "From: " + ID + "\r\nReply-To: desk@app.example\r\n\r\nbody\r\n");
    }

    @Test
    void aFromNamingTheIdentityAlreadyIsLeftAlone() {
        String m = "From: ALERTS@verified.example\r\nTo: t@x.example\r\n\r\nbody\r\n";
        check(m, m);
        String named = "From: \"Other name\" <alerts@Verified.Example>\r\n\r\nbody\r\n";
        check(named, named);
    }

    @Test
    void onlyTheFirstFromIsRewritten() {
        check("From: a@x.example\r\nFrom: b@x.example\r\n\r\n",
                "From: " + ID + "\r\nFrom: b@x.example\r\nReply-To: a@x.example\r\n\r\n");
    }

    @Test
    void aHeaderWithoutBodyOrFinalLineEndStillGetsItsReplyTo() {
        check("Subject: s\r\nFrom: a@x.example\r\n", "Subject: s\r\nFrom: " + ID + "\r\nReply-To: a@x.example\r\n");
        check("From: a@x.example", "From: " + ID + "\r\nReply-To: a@x.example\r\n");
    }

    @Test
    void noFromNoChange() {
        String m = "Subject: s\r\nTo: t@x.example\r\n\r\nFrom: not a header\r\n";
        check(m, m);
    }

    @Test
    void anOverlongHeaderLineEndsTheRewritingAndPassesUnchanged() {
        String longLine = "X-Long: " + "a".repeat(FromRewriter.MAX_FIELD + 10) + "\r\n";
        String m = "From: a@x.example\r\n" + longLine + "Subject: s\r\n\r\nbody\r\n";
        assertEquals("From: " + ID + "\r\nReply-To: a@x.example\r\n" + longLine + "Subject: s\r\n\r\nbody\r\n",
                rewrite(m, 5, 1));
        String before = "X-Long: " + "a".repeat(FromRewriter.MAX_FIELD + 10) + "\r\nFrom: a@x.example\r\n\r\n";
        assertEquals(before, rewrite(before, 3, 2));
    }
}
