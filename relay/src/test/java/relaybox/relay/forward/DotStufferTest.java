package relaybox.relay.forward;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.UnpooledByteBufAllocator;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;

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
}
