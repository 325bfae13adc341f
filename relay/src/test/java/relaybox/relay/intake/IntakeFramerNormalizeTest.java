package relaybox.relay.intake;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The framer alone in normalize mode, fed every smuggling terminator in every split (a CR at the
 * end of one piece, the LF in the next): the message ends only at the real {@code <CRLF>.<CRLF>},
 * what is passed on has CRLF line ends only, and a bare CR still marks the message bad.
 */
class IntakeFramerNormalizeTest {

    private static final List<String> TERMINATORS = List.of("\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r.\r\n",
            "\r\n.\r", "\n.\r", "\r.\n", "\n\n.\n\n", "\r\n.\n\r\n", "\n.\n.\r\n", "\n..\n");

    private record Result(List<String> messages, List<Boolean> bad, String commandAfter) { }

    private static Result frame(String afterData, long seed) {
        IntakeFramer f = new IntakeFramer(false);
        EmbeddedChannel ch = new EmbeddedChannel(f);
        ch.writeInbound(Unpooled.copiedBuffer("DATA\r\n", StandardCharsets.ISO_8859_1));
        IntakeFramer.CommandLine data = ch.readInbound();
        data.line().release();
        f.expectData(true);
        f.resume();
        ch.runPendingTasks();
        byte[] all = afterData.getBytes(StandardCharsets.ISO_8859_1);
        Random r = new Random(seed);
        List<String> messages = new ArrayList<>();
        List<Boolean> bad = new ArrayList<>();
        String after = null;
        ByteArrayOutputStream cur = new ByteArrayOutputStream();
        for (int i = 0; i < all.length; ) {
            int n = Math.min(all.length - i, 1 + r.nextInt(6));
            ch.writeInbound(Unpooled.wrappedBuffer(all, i, n));
            i += n;
            Object o;
            while ((o = ch.readInbound()) != null) {
                if (o instanceof IntakeFramer.DataChunk c) {
                    byte[] b = new byte[c.bytes().readableBytes()];
                    c.bytes().readBytes(b);
                    c.bytes().release();
                    cur.writeBytes(b);
                    f.consumed(b.length);
                } else if (o instanceof IntakeFramer.DataEnd e) {
                    messages.add(cur.toString(StandardCharsets.ISO_8859_1));
                    bad.add(e.bareNewline());
                    cur.reset();
                    f.resume();
                    ch.runPendingTasks();
                } else if (o instanceof IntakeFramer.CommandLine c) {
                    after = after == null ? c.line().toString(StandardCharsets.ISO_8859_1) : after;
                    c.line().release();
                }
            }
        }
        ch.finishAndReleaseAll();
        return new Result(messages, bad, after);
    }

    @Test
    void noTerminatorVariantEndsTheMessageInAnySplit() {
        for (String t : TERMINATORS) {
            String data = "Subject: x\r\n\r\nhello" + t + "MAIL FROM:<evil@x.example>\r\nboo\r\n.\r\nQUIT\r\n";
            boolean bareCr = t.replace("\r\n", "").contains("\r");
            for (long seed = 0; seed < 50; seed++) {
                Result res = frame(data, seed);
                String shown = t.replace("\r", "\\r").replace("\n", "\\n") + " seed " + seed;
                assertEquals(1, res.messages().size(), "one message for " + shown);
                assertEquals("QUIT\r\n", res.commandAfter(), "the real terminator, then QUIT: " + shown);
                assertEquals(bareCr, res.bad().get(0), "bad only for a bare CR: " + shown);
                if (!bareCr) {
                    String m = res.messages().get(0);
                    assertTrue(m.contains("\r\nMAIL FROM:<evil@x.example>\r\nboo\r\n"), shown + ": " + m);
                    assertTrue(m.replace("\r\n", "").indexOf('\r') < 0 && m.replace("\r\n", "").indexOf('\n') < 0,
                            "CRLF only: " + shown + ": " + m);
                }
            }
        }
    }
}
