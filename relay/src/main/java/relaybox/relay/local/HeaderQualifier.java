package relaybox.relay.local;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Streams a message's bytes on to a {@link Sink}, qualifying bare names in its From:, To: and Cc:
 * fields on the way ({@link AddressHeaders}); every other byte is passed on as it came. It sits in
 * front of the spool, the DKIM signer and the header scanner, so what is signed and stored is
 * the rewritten header.
 *
 * <p>Memory is bounded: it holds one header line, or one From/To/Cc field with its continuation
 * lines, of at most {@link #MAX_FIELD} bytes. A longer field is passed on unchanged; a line that
 * is not a header field (or the empty line) ends the header section, after which bytes go
 * straight through. The input is expected in CRLF lines (the intake's framer guarantees it).
 *
 * <p>Thread safety: one message, one thread.
 */
public final class HeaderQualifier {

    static final int MAX_FIELD = 64 * 1024;

    /** Where the bytes go. */
    public interface Sink {
        void write(byte[] b, int off, int len);
    }

    private final String domain;
    private final Sink sink;
    private byte[] line = new byte[256];
    private int lineLen;
    /** The From/To/Cc field being held, or null. */
    private byte[] field;
    private int fieldLen;
    /** A field too long to rewrite: its continuation lines are passed on too. */
    private boolean passingField;
    private boolean inBody;

    public HeaderQualifier(String domain, Sink sink) {
        this.domain = domain;
        this.sink = sink;
    }

    public void write(byte[] b, int off, int len) {
        int end = off + len;
        int i = off;
        while (i < end) {
            if (inBody) {
                sink.write(b, i, end - i);
                return;
            }
            int lf = indexOf(b, i, end);
            int stop = lf < 0 ? end : lf + 1;
            append(b, i, stop - i);
            i = stop;
            if (lf >= 0) {
                line();
            } else if (lineLen > MAX_FIELD) {
                // A header line this long is no address list we will rewrite: pass it all on.
                flushField();
                sink.write(line, 0, lineLen);
                lineLen = 0;
                inBody = true;
            }
        }
    }

    /** The end of the message: passes on what is still held. */
    public void finish() {
        if (!inBody && lineLen > 0) {
            line(); // a last header line without its line end
        }
        flushField();
        if (lineLen > 0) {
            sink.write(line, 0, lineLen);
            lineLen = 0;
        }
        inBody = true;
    }

    private void line() {
        boolean continuation = line[0] == ' ' || line[0] == '\t';
        if (continuation && field != null) {
            if (fieldLen + lineLen > MAX_FIELD) {
                sink.write(field, 0, fieldLen);
                field = null;
                passingField = true;
                sink.write(line, 0, lineLen);
            } else {
                hold();
            }
            lineLen = 0;
            return;
        }
        if (continuation && passingField) {
            sink.write(line, 0, lineLen);
            lineLen = 0;
            return;
        }
        flushField();
        passingField = false;
        int colon = fieldName();
        if (colon < 0) {
            // The empty line, or a line that is no header field: the body starts.
            sink.write(line, 0, lineLen);
            lineLen = 0;
            inBody = true;
            return;
        }
        if (isAddressField(colon)) {
            field = new byte[Math.max(lineLen * 2, 256)];
            fieldLen = 0;
            hold();
        } else {
            sink.write(line, 0, lineLen);
            passingField = true;
        }
        lineLen = 0;
    }

    private void hold() {
        if (fieldLen + lineLen > field.length) {
            field = Arrays.copyOf(field, Math.min(MAX_FIELD, Math.max(field.length * 2, fieldLen + lineLen)));
        }
        System.arraycopy(line, 0, field, fieldLen, lineLen);
        fieldLen += lineLen;
    }

    private void flushField() {
        if (field == null) {
            return;
        }
        String text = new String(field, 0, fieldLen, StandardCharsets.ISO_8859_1);
        String out = AddressHeaders.qualify(text, domain);
        if (out == text) {
            sink.write(field, 0, fieldLen);
        } else {
            byte[] bytes = out.getBytes(StandardCharsets.ISO_8859_1);
            sink.write(bytes, 0, bytes.length);
        }
        field = null;
    }

    /** The colon's index when the line starts a header field (RFC 5322 field name), else -1. */
    private int fieldName() {
        for (int i = 0; i < lineLen; i++) {
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

    private boolean isAddressField(int colon) {
        return is(colon, "from") || is(colon, "to") || is(colon, "cc");
    }

    private boolean is(int colon, String name) {
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
