package relaybox.relay.dkim;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.util.HexFormat;
import java.util.Random;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Body canonicalisation (RFC 6376 §3.4.3, §3.4.4) as a table: body in, canonical body out. Each row
 * is also fed byte by byte and in random chunks, so a state carried wrongly across a chunk
 * boundary (a CR at the end of one chunk, whitespace before a line end) shows up.
 */
class BodyHasherTest {

    static Stream<Arguments> rows() {
        return Stream.of(
                // canonicalization, body, expected canonical body
                Arguments.of("simple", "", "\r\n"),
                Arguments.of("relaxed", "", ""),
                Arguments.of("simple", "\r\n", "\r\n"),
                Arguments.of("relaxed", "\r\n", ""),
                Arguments.of("simple", "\r\n\r\n\r\n", "\r\n"),
                Arguments.of("relaxed", " \r\n\t\r\n", ""),
                Arguments.of("simple", "a\r\n\r\n\r\n", "a\r\n"),
                Arguments.of("relaxed", "a\r\n\r\n\r\n", "a\r\n"),
                Arguments.of("simple", "last", "last\r\n"),
                Arguments.of("relaxed", "last  ", "last\r\n"),
                Arguments.of("simple", "a \r\n b\t\r\n", "a \r\n b\t\r\n"),
                Arguments.of("relaxed", "a  \t b \r\n", "a b\r\n"),
                Arguments.of("relaxed", "  lead\r\n", " lead\r\n"),
                Arguments.of("relaxed", "a\r\n   \r\nb\r\n", "a\r\n\r\nb\r\n"),
                Arguments.of("simple", "a\r\n  \r\n", "a\r\n  \r\n"),
                Arguments.of("relaxed", "a\r\n \r\n  \r\n", "a\r\n"),
                Arguments.of("simple", "x\ry\r\n", "x\ry\r\n"),
                Arguments.of("relaxed", "x \r y\r\n", "x \r y\r\n"),
                Arguments.of("simple", "end\r", "end\r\r\n"),
                Arguments.of("relaxed", "one two  three\t four \r\nx y\r\n", "one two three four\r\nx y\r\n"),
                Arguments.of("relaxed", "a b \r\n\r\n c d\t\r\n \r\n", "a b\r\n\r\n c d\r\n"),
                Arguments.of("simple", "a b  c\t\r\n", "a b  c\t\r\n"),
                Arguments.of("relaxed", "Hi.\r\n\r\nWe lost the game.  Are you hungry yet?\r\n\r\nJoe.\r\n\r\n",
                        "Hi.\r\n\r\nWe lost the game. Are you hungry yet?\r\n\r\nJoe.\r\n"));
    }

    @ParameterizedTest
    @MethodSource("rows")
    void canonicalBodyIsHashedWhateverTheChunking(String canon, String body, String expected) throws Exception {
        String want = HexFormat.of().formatHex(
                MessageDigest.getInstance("SHA-256").digest(expected.getBytes(StandardCharsets.ISO_8859_1)));
        byte[] in = body.getBytes(StandardCharsets.ISO_8859_1);
        Canonicalization c = Canonicalization.byName(canon);
        assertEquals(want, hash(c, in, in.length + 1, 0), "one chunk");
        assertEquals(want, hash(c, in, 1, 0), "byte by byte");
        for (long seed = 0; seed < 20; seed++) {
            assertEquals(want, hash(c, in, 4, seed), "random chunks, seed " + seed);
        }
    }

    static String hash(Canonicalization c, byte[] in, int maxChunk, long seed) {
        BodyHasher h = new BodyHasher(c);
        Random r = new Random(seed);
        int i = 0;
        while (i < in.length) {
            int n = Math.min(in.length - i, maxChunk == 1 ? 1 : 1 + r.nextInt(maxChunk));
            h.update(in, i, n);
            i += n;
        }
        return HexFormat.of().formatHex(h.finish());
    }
}
