package relaybox.relay.local;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;

/**
 * Streams a message's bytes on to a {@link HeaderQualifier.Sink}, replacing the header From: with
 * a verified identity ({@code from_rewrite}: SES, Microsoft and Google refuse unverified From
 * addresses) and keeping the original From in a Reply-To: added at the end of the header section
 * when the message has none, so replies still reach the author. Every other byte passes as it
 * came. It sits in front of the DKIM signer and the spool, so what is signed is what is sent.
 *
 * <p>Only the first From: field is rewritten, and not at all when it already names the identity's
 * address. The Reply-To: value is the original From: value byte for byte (its folding included).
 * Memory is bounded: one header line, or the From: field with its continuation lines, of at most
 * {@link #MAX_FIELD} bytes; a longer line ends the rewriting (the rest of the message passes
 * unchanged, with the Reply-To: added first if the From was rewritten already). Input is CRLF
 * lines (the intake's framer and the drop pickup guarantee it). One message, one thread.
 */
public final class FromRewriter {

    static final int MAX_FIELD = 64 * 1024;
    private static final byte[] REPLY_TO = "Reply-To:".getBytes(StandardCharsets.US_ASCII);

    private final byte[] newFrom;
    private final String identity;
    private final HeaderQualifier.Sink sink;
    private final ByteArrayOutputStream line = new ByteArrayOutputStream(256);
    /** The From field being held (name, value and continuation lines), or null. */
    private ByteArrayOutputStream from;
    private boolean fromDone;
    /** The original From value (after "From:"), set once the field was rewritten. */
    private byte[] original;
    private boolean replyToSeen;
    private boolean inBody;

    /** @param identity the from_rewrite value: an address, or "Name <address>" */
    public FromRewriter(String identity, HeaderQualifier.Sink sink) {
        this.newFrom = ("From: " + identity + "\r\n").getBytes(StandardCharsets.UTF_8);
        this.identity = address(identity);
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
            line.write(b, i, stop - i);
            i = stop;
            if (lf >= 0) {
                line();
            } else if (line.size() > MAX_FIELD) {
                giveUp();
            }
        }
    }

    /** The end of the message: passes on what is still held. */
    public void finish() {
        if (!inBody && line.size() > 0) {
            line();
        }
        if (!inBody) {
            endFrom();
            addReplyTo();
            inBody = true;
        }
    }

    private void line() {
        byte[] l = line.toByteArray();
        line.reset();
        boolean continuation = l[0] == ' ' || l[0] == '\t';
        if (continuation && from != null) {
            from.writeBytes(l);
            if (from.size() > MAX_FIELD) {
                // Too long to be worth rewriting: passed on as it came.
                sink.write(from.toByteArray(), 0, from.size());
                from = null;
            }
            return;
        }
        if (!continuation) {
            endFrom();
        }
        int colon = continuation ? -1 : fieldName(l);
        if (!continuation && colon < 0) {
            // The empty line (or a line that is no field): the header section ends here.
            addReplyTo();
            sink.write(l, 0, l.length);
            inBody = true;
            return;
        }
        if (colon > 0 && !fromDone && is(l, colon, "from")) {
            fromDone = true;
            from = new ByteArrayOutputStream(Math.max(256, l.length));
            from.writeBytes(l);
            return;
        }
        if (colon > 0 && is(l, colon, "reply-to")) {
            replyToSeen = true;
        }
        sink.write(l, 0, l.length);
    }

    /** The held From field is complete: rewritten, unless it already names the identity. */
    private void endFrom() {
        if (from == null) {
            return;
        }
        byte[] f = from.toByteArray();
        from = null;
        byte[] value = java.util.Arrays.copyOfRange(f, 5, f.length);
        String text = new String(value, StandardCharsets.UTF_8).replaceAll("\r?\n", "");
        if (address(text).equalsIgnoreCase(identity)) {
            sink.write(f, 0, f.length);
            return;
        }
        sink.write(newFrom, 0, newFrom.length);
        original = value;
    }

    private void addReplyTo() {
        if (original != null && !replyToSeen) {
            replyToSeen = true;
            sink.write(REPLY_TO, 0, REPLY_TO.length);
            sink.write(original, 0, original.length);
            if (original.length == 0 || original[original.length - 1] != '\n') {
                sink.write(new byte[] {'\r', '\n'}, 0, 2);
            }
        }
    }

    /** A header line longer than {@link #MAX_FIELD}: no more rewriting, everything passes. */
    private void giveUp() {
        byte[] l = line.toByteArray();
        line.reset();
        boolean continuation = l[0] == ' ' || l[0] == '\t';
        if (from != null && continuation) {
            from.writeBytes(l);
            sink.write(from.toByteArray(), 0, from.size());
            from = null;
        } else {
            endFrom();
            int colon = fieldName(l);
            if (colon > 0 && is(l, colon, "reply-to")) {
                replyToSeen = true;
            }
            addReplyTo();
            sink.write(l, 0, l.length);
        }
        addReplyTo();
        inBody = true;
    }

    /** The address of a From value or identity: inside its last angle brackets, else the whole. */
    static String address(String value) {
        int lt = value.lastIndexOf('<');
        int gt = value.lastIndexOf('>');
        String a = lt >= 0 && gt > lt ? value.substring(lt + 1, gt) : value;
        return a.strip().toLowerCase(Locale.ROOT);
    }

    /** The colon's index when the line starts a header field (RFC 5322 field name), else -1. */
    private static int fieldName(byte[] l) {
        for (int i = 0; i < l.length; i++) {
            byte c = l[i];
            if (c == ':') {
                return i == 0 ? -1 : i;
            }
            if (c < 33 || c > 126) {
                return -1;
            }
        }
        return -1;
    }

    private static boolean is(byte[] l, int colon, String name) {
        if (colon != name.length()) {
            return false;
        }
        for (int i = 0; i < colon; i++) {
            if (Character.toLowerCase((char) l[i]) != name.charAt(i)) {
                return false;
            }
        }
        return true;
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
