package relaybox.relay.local;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.Arguments;
import org.junit.jupiter.params.provider.MethodSource;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The line cutter both header rewriters stand on, as a table: for each message, the lines, the
 * over-long line and the body it hands on, the same at every cut point and in one-byte writes.
 */
class HeaderLinesTest {

    /** A reader that records what it is given; the empty line ends the header section. */
    private static final class Recorder {
        final List<String> events = new ArrayList<>();
        final StringBuilder body = new StringBuilder();

        boolean line(byte[] l, int len) {
            String s = new String(l, 0, len, StandardCharsets.ISO_8859_1);
            events.add("line " + s);
            return s.equals("\r\n") || s.equals("\n");
        }

        void tooLong(byte[] l, int len) {
            events.add("long " + len);
        }

        void body(byte[] b, int off, int len) {
            body.append(new String(b, off, len, StandardCharsets.ISO_8859_1));
        }

        List<String> all(boolean open) {
            List<String> out = new ArrayList<>(events);
            if (body.length() > 0) {
                out.add("body " + body);
            }
            out.add(open ? "ended in header" : "ended in body");
            return out;
        }
    }

    static Stream<Arguments> table() {
        return Stream.of(
                Arguments.of("header and body", 100, "A: 1\r\nB: 2\r\n\r\nC: body\r\nx",
                        List.of("line A: 1\r\n", "line B: 2\r\n", "line \r\n", "body C: body\r\nx", "ended in body")),
                Arguments.of("continuation lines stay separate lines", 100, "To: a,\r\n\tb\r\n\r\n",
                        List.of("line To: a,\r\n", "line \tb\r\n", "line \r\n", "ended in body")),
                Arguments.of("bare LF ends a line too", 100, "A: 1\nB: 2\n\nrest",
                        List.of("line A: 1\n", "line B: 2\n", "line \n", "body rest", "ended in body")),
                Arguments.of("last line without its end is handed on at finish", 100, "A: 1\r\nB: 2",
                        List.of("line A: 1\r\n", "line B: 2", "ended in header")),
                Arguments.of("header only, ends with CRLF", 100, "A: 1\r\n",
                        List.of("line A: 1\r\n", "ended in header")),
                Arguments.of("empty message", 100, "",
                        List.of("ended in header")),
                Arguments.of("a line held at the limit is still a line", 10, "012345678\r\n\r\n",
                        List.of("line 012345678\r\n", "line \r\n", "ended in body")),
                Arguments.of("a line over the limit without its end: the rest is body", 10,
                        "A: 1\r\n0123456789abc\r\nB: 2\r\n\r\n",
                        List.of("line A: 1\r\n", "long 11", "body bc\r\nB: 2\r\n\r\n", "ended in body")));
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("table")
    void linesAreTheSameAtEveryCutPoint(String name, int max, String in, List<String> want) {
        byte[] b = in.getBytes(StandardCharsets.ISO_8859_1);
        if (!want.stream().anyMatch(e -> e.startsWith("long "))) {
            for (int cut = 0; cut <= b.length; cut++) {
                assertEquals(want, run(max, b, cut, b.length), name + ", cut at " + cut);
            }
        }
        assertEquals(want, run(max, b, 0, 1), name + ", one byte a write");
    }

    @Test
    void anOverlongLineIsCutWhereTheWriteThatPassedTheLimitEnded() {
        // The limit is checked after each write, so the held part is at most one write past it.
        byte[] b = "0123456789abc\r\n\r\n".getBytes(StandardCharsets.ISO_8859_1);
        assertEquals(List.of("long 13", "body \r\n\r\n", "ended in body"), run(10, b, 13, b.length));
        assertEquals(List.of("line 0123456789abc\r\n", "line \r\n", "ended in body"), run(10, b, 15, b.length),
                "a write that holds the line end hands the line on whole, however long");
    }

    /** Feeds {@code b} as one write of {@code first} bytes, then writes of {@code step} bytes. */
    private static List<String> run(int max, byte[] b, int first, int step) {
        Recorder r = new Recorder();
        HeaderLines lines = new HeaderLines(max, r::body, r::line, r::tooLong);
        lines.write(b, 0, first);
        for (int i = first; i < b.length; i += step) {
            lines.write(b, i, Math.min(step, b.length - i));
        }
        return r.all(lines.finish());
    }

    @Test
    void afterFinishEverythingIsBody() {
        Recorder r = new Recorder();
        HeaderLines lines = new HeaderLines(100, r::body, r::line, r::tooLong);
        lines.write("A: 1".getBytes(StandardCharsets.ISO_8859_1), 0, 4);
        assertTrue(lines.finish());
        assertFalse(lines.finish(), "a second finish finds the header section closed");
        lines.write("B: 2\r\n".getBytes(StandardCharsets.ISO_8859_1), 0, 6);
        assertEquals(List.of("line A: 1", "body B: 2\r\n", "ended in body"), r.all(false));
    }

    static Stream<Arguments> fieldNames() {
        return Stream.of(
                Arguments.of("From: a", 4),
                Arguments.of("x-y_z.1: v", 7),
                Arguments.of(": no name", -1),
                Arguments.of("No colon\r\n", -1),
                Arguments.of("Sub ject: space in the name", -1),
                Arguments.of(" From: continuation", -1),
                Arguments.of("\r\n", -1),
                Arguments.of("Caf\u00e9: non-ASCII name", -1));
    }

    @ParameterizedTest(name = "[{index}] {0}")
    @MethodSource("fieldNames")
    void fieldNameIsTheColonOfAnRfc5322FieldName(String line, int colon) {
        byte[] b = line.getBytes(StandardCharsets.ISO_8859_1);
        assertEquals(colon, HeaderLines.fieldName(b, b.length));
    }

    @Test
    void fieldNameLooksOnlyAtTheGivenLength() {
        byte[] b = "From: a".getBytes(StandardCharsets.ISO_8859_1);
        assertEquals(-1, HeaderLines.fieldName(b, 4), "the colon lies past the length");
    }

    @Test
    void isComparesTheWholeNameInAnyCase() {
        byte[] b = "REPLY-to: x".getBytes(StandardCharsets.ISO_8859_1);
        assertTrue(HeaderLines.is(b, 8, "reply-to"));
        assertFalse(HeaderLines.is(b, 8, "reply"));
        byte[] to = "To: x".getBytes(StandardCharsets.ISO_8859_1);
        assertTrue(HeaderLines.is(to, 2, "to"));
        assertFalse(HeaderLines.is(to, 2, "cc"));
    }

    @Test
    void continuationIsALeadingSpaceOrTab() {
        assertTrue(HeaderLines.continuation(" x".getBytes(StandardCharsets.ISO_8859_1)));
        assertTrue(HeaderLines.continuation("\tx".getBytes(StandardCharsets.ISO_8859_1)));
        assertFalse(HeaderLines.continuation("x ".getBytes(StandardCharsets.ISO_8859_1)));
    }
}
