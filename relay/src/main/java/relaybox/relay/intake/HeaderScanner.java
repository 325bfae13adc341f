package relaybox.relay.intake;

import relaybox.relay.dkim.HeaderFields;

import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Learns from the message's header section, as its bytes stream past, what the intake needs to
 * decide which header lines to add: whether Date: and Message-ID: are present, and the domain of
 * From:. Never changes or keeps the bytes. Memory is bounded: it looks at no more than
 * {@link #MAX_HEADER_BYTES} of header section and keeps at most {@link #MAX_FIELD} bytes of the
 * field being read. A line that is not a header field ends the header section, as for a reader.
 */
final class HeaderScanner {

    static final int MAX_HEADER_BYTES = 1 << 20;
    static final int MAX_FIELD = 4096;

    private boolean done;
    private long seen;
    private boolean lineStart = true;
    // Grows to MAX_FIELD only for a long field: most are well under 256 bytes, and a scanner is
    // made for every message.
    private byte[] field = new byte[256];
    private int fieldLen;
    private boolean fieldOpen;

    private boolean hasDate;
    private boolean hasMessageId;
    private String fromDomain = "";

    void update(byte[] b, int off, int len) {
        for (int i = off; i < off + len && !done; i++) {
            byte c = b[i];
            if (++seen > MAX_HEADER_BYTES) {
                endField();
                done = true;
                return;
            }
            if (lineStart) {
                lineStart = false;
                if (c == '\r' || c == '\n') {
                    // An empty line: the body starts.
                    endField();
                    done = true;
                    return;
                }
                if (c != ' ' && c != '\t') {
                    endField();
                    fieldOpen = true;
                }
            }
            if (c == '\n') {
                lineStart = true;
            } else if (c != '\r' && fieldOpen && fieldLen < MAX_FIELD) {
                if (fieldLen == field.length) {
                    field = java.util.Arrays.copyOf(field, Math.min(2 * field.length, MAX_FIELD));
                }
                field[fieldLen++] = c;
            }
        }
    }

    /** Call at the end of the message: a message with headers only has no empty line. */
    void finish() {
        if (!done) {
            endField();
            done = true;
        }
    }

    private void endField() {
        if (!fieldOpen) {
            return;
        }
        fieldOpen = false;
        String f = new String(field, 0, fieldLen, StandardCharsets.UTF_8);
        fieldLen = 0;
        int colon = f.indexOf(':');
        if (colon <= 0 || !HeaderFields.isFieldName(f.substring(0, colon).trim())) {
            // Not a header field: the header section is over (a reader would start the body here).
            done = true;
            return;
        }
        String name = f.substring(0, colon).trim().toLowerCase(Locale.ROOT);
        switch (name) {
            case "date" -> hasDate = true;
            case "message-id" -> hasMessageId = true;
            case "from" -> {
                if (fromDomain.isEmpty()) {
                    fromDomain = domainOf(f.substring(colon + 1));
                }
            }
            default -> { }
        }
    }

    /** The domain of the first address in a From: value, lower case; "" if none is found. */
    static String domainOf(String value) {
        int lt = value.indexOf('<');
        String addr = value;
        if (lt >= 0) {
            int gt = value.indexOf('>', lt);
            addr = value.substring(lt + 1, gt < 0 ? value.length() : gt);
        }
        int at = addr.lastIndexOf('@');
        if (at < 0) {
            return "";
        }
        StringBuilder d = new StringBuilder();
        for (int i = at + 1; i < addr.length(); i++) {
            char c = addr.charAt(i);
            if (Character.isWhitespace(c) || c == '>' || c == ',' || c == ';' || c == ')' || c == '(') {
                break;
            }
            d.append(c);
        }
        return d.toString().toLowerCase(Locale.ROOT);
    }

    /** Heap held for the field being read, in bytes. */
    long heldBytes() {
        return field.length;
    }

    boolean hasDate() {
        return hasDate;
    }

    boolean hasMessageId() {
        return hasMessageId;
    }

    String fromDomain() {
        return fromDomain;
    }
}
