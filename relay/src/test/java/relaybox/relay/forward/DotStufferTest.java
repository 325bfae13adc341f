package relaybox.relay.forward;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

class DotStufferTest {

    /** Input and expected wire form (with the tail before "."), "|" = CRLF; every chunk size is tried. */
    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
            "a|b|; a|b|",
            ".a|; ..a|",
            "a|.|..b|; a|..|...b|",
            "a.b|x .|; a.b|x .|",
            "a|.; a|..|",
            "; |",
            "x; x|"})
    void stuffsLineStartsAcrossChunks(String input, String want) {
        byte[] in = (input == null ? "" : input).replace("|", "\r\n").getBytes(StandardCharsets.US_ASCII);
        String expected = want.replace("|", "\r\n");
        for (int chunk = 1; chunk <= Math.max(1, in.length); chunk++) {
            DotStuffer s = new DotStuffer();
            StringBuilder got = new StringBuilder();
            for (int off = 0; off < in.length; off += chunk) {
                ByteBuf b = s.stuff(UnpooledByteBufAllocator.DEFAULT, in, off, Math.min(chunk, in.length - off));
                got.append(b.toString(StandardCharsets.US_ASCII));
                b.release();
            }
            got.append(new String(s.tail(), StandardCharsets.US_ASCII));
            assertEquals(expected, got.toString(), "chunk size " + chunk);
        }
    }

    /** Random messages in random chunks against the rule itself, applied byte by byte. */
    @Test
    void agreesWithTheRuleOnRandomMessagesInRandomChunks() {
        Random r = new Random(20261122);
        byte[] alphabet = {'.', '.', '\r', '\n', '\n', 'a', ' ', (byte) 0xc3};
        for (int round = 0; round < 5000; round++) {
            byte[] in = new byte[r.nextInt(300)];
            for (int i = 0; i < in.length; i++) {
                in[i] = alphabet[r.nextInt(alphabet.length)];
            }
            ByteArrayOutputStream want = new ByteArrayOutputStream();
            boolean lineStart = true;
            for (byte b : in) {
                if (lineStart && b == '.') {
                    want.write('.');
                }
                want.write(b);
                lineStart = b == '\n';
            }
            DotStuffer s = new DotStuffer();
            ByteArrayOutputStream got = new ByteArrayOutputStream();
            for (int off = 0; off < in.length; ) {
                int n = Math.min(in.length - off, r.nextInt(40));
                ByteBuf b = s.stuff(UnpooledByteBufAllocator.DEFAULT, in, off, n);
                byte[] chunk = new byte[b.readableBytes()];
                b.readBytes(chunk);
                b.release();
                got.writeBytes(chunk);
                off += n;
            }
            assertArrayEquals(want.toByteArray(), got.toByteArray(), "round " + round);
        }
    }
}
