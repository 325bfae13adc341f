package relaybox.relay.local;

import java.util.Arrays;

/**
 * Cuts the header section of a streamed message into lines for a header rewriter
 * ({@link HeaderQualifier}, {@link FromRewriter}), however the bytes arrive, and passes the body
 * straight on once the rewriter says the header section is over. It owns the one held line and
 * the header/body switch; what a line means is the rewriter's.
 *
 * <p>A line is handed on with its LF (and the CR before it). A line still without its LF when it
 * grows beyond {@code maxLine} bytes is handed to {@link OverlongReader} instead, and everything
 * after it is body: no rewriter holds an unbounded line. One message, one thread.
 */
final class HeaderLines {

    /** What the rewriter does with each complete header-section line. */
    interface LineReader {
        /**
         * {@code len} bytes of {@code line}, valid only during the call; returns true when this
         * line ended the header section, so what follows is body.
         */
        boolean line(byte[] line, int len);
    }

    /** What the rewriter does with a line over the limit, still without its end. */
    interface OverlongReader {
        /** {@code len} bytes of {@code line}, valid only during the call; the rest is body. */
        void tooLong(byte[] line, int len);
    }

    private final int maxLine;
    private final HeaderQualifier.Sink body;
    private final LineReader reader;
    private final OverlongReader overlong;
    private byte[] line = new byte[256];
    private int lineLen;
    private boolean inBody;

    HeaderLines(int maxLine, HeaderQualifier.Sink body, LineReader reader, OverlongReader overlong) {
        this.maxLine = maxLine;
        this.body = body;
        this.reader = reader;
        this.overlong = overlong;
    }

    void write(byte[] b, int off, int len) {
        int end = off + len;
        int i = off;
        while (i < end) {
            if (inBody) {
                body.write(b, i, end - i);
                return;
            }
            int lf = indexOf(b, i, end);
            int stop = lf < 0 ? end : lf + 1;
            append(b, i, stop - i);
            i = stop;
            if (lf >= 0) {
                int n = lineLen;
                lineLen = 0;
                inBody = reader.line(line, n);
            } else if (lineLen > maxLine) {
                int n = lineLen;
                lineLen = 0;
                inBody = true;
                overlong.tooLong(line, n);
            }
        }
    }

    /**
     * The end of the message: hands on a last header line that has no line end. Returns true when
     * the header section was still open (the message ended inside it); from here on all is body.
     */
    boolean finish() {
        if (!inBody && lineLen > 0) {
            int n = lineLen;
            lineLen = 0;
            inBody = reader.line(line, n);
        }
        boolean open = !inBody;
        inBody = true;
        return open;
    }

    /** The colon's index when the line starts a header field (RFC 5322 field name), else -1. */
    static int fieldName(byte[] line, int len) {
        for (int i = 0; i < len; i++) {
            byte c = line[i];
            if (c == ':') {
                return i == 0 ? -1 : i;
            }
            if (c < 33 || c > 126) {
                return -1;
            }
        }
        return -1;
    }

    /** True when the field name before {@code colon} is {@code name} (lower case), in any case. */
    static boolean is(byte[] line, int colon, String name) {
        if (colon != name.length()) {
            return false;
        }
        for (int i = 0; i < colon; i++) {
            if (Character.toLowerCase((char) line[i]) != name.charAt(i)) {
                return false;
            }
        }
        return true;
    }

    /** True when the line continues the field before it (starts with a space or a tab). */
    static boolean continuation(byte[] line) {
        return line[0] == ' ' || line[0] == '\t';
    }

    private void append(byte[] b, int off, int len) {
        if (lineLen + len > line.length) {
            line = Arrays.copyOf(line, Math.max(line.length * 2, lineLen + len));
        }
        System.arraycopy(b, off, line, lineLen, len);
        lineLen += len;
    }

    private static int indexOf(byte[] b, int from, int end) {
        for (int i = from; i < end; i++) {
            if (b[i] == '\n') {
                return i;
            }
        }
        return -1;
    }
}
