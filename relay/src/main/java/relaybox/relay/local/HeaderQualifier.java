package relaybox.relay.local;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Streams a message's bytes on to a {@link Sink}, qualifying bare names in its From:, To: and Cc:
 * fields on the way ({@link AddressHeaders}); every other byte is passed on as it came. It sits in
 * front of the spool, the DKIM signer and the header scanner, so what is signed and stored is
 * the rewritten header.
 *
 * <p>Memory is bounded: it holds one header line ({@link HeaderLines}), or one From/To/Cc field
 * with its continuation lines, of at most {@link #MAX_FIELD} bytes. A longer field is passed on
 * unchanged; a line that is not a header field (or the empty line) ends the header section, after
 * which bytes go straight through. The input is expected in CRLF lines (the intake's framer
 * guarantees it).
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
    private final HeaderLines lines;
    /** The From/To/Cc field being held, or null. */
    private byte[] field;
    private int fieldLen;
    /** A field too long to rewrite: its continuation lines are passed on too. */
    private boolean passingField;

    public HeaderQualifier(String domain, Sink sink) {
        this.domain = domain;
        this.sink = sink;
        this.lines = new HeaderLines(MAX_FIELD, sink, this::line, this::tooLong);
    }

    public void write(byte[] b, int off, int len) {
        lines.write(b, off, len);
    }

    /** The end of the message: passes on what is still held. */
    public void finish() {
        lines.finish();
        flushField();
    }

    private boolean line(byte[] line, int lineLen) {
        boolean continuation = HeaderLines.continuation(line);
        if (continuation && field != null) {
            if (fieldLen + lineLen > MAX_FIELD) {
                sink.write(field, 0, fieldLen);
                field = null;
                passingField = true;
                sink.write(line, 0, lineLen);
            } else {
                hold(line, lineLen);
            }
            return false;
        }
        if (continuation && passingField) {
            sink.write(line, 0, lineLen);
            return false;
        }
        flushField();
        passingField = false;
        int colon = HeaderLines.fieldName(line, lineLen);
        if (colon < 0) {
            // The empty line, or a line that is no header field: the body starts.
            sink.write(line, 0, lineLen);
            return true;
        }
        if (isAddressField(line, colon)) {
            field = new byte[Math.max(lineLen * 2, 256)];
            fieldLen = 0;
            hold(line, lineLen);
        } else {
            sink.write(line, 0, lineLen);
            passingField = true;
        }
        return false;
    }

    /** A header line this long is no address list we will rewrite: pass it all on. */
    private void tooLong(byte[] line, int lineLen) {
        flushField();
        sink.write(line, 0, lineLen);
    }

    private void hold(byte[] line, int lineLen) {
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

    private static boolean isAddressField(byte[] line, int colon) {
        return HeaderLines.is(line, colon, "from") || HeaderLines.is(line, colon, "to")
                || HeaderLines.is(line, colon, "cc");
    }
}
