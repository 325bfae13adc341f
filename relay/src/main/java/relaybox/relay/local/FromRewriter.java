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
    private final HeaderLines lines;
    /** The From field being held (name, value and continuation lines), or null. */
    private ByteArrayOutputStream from;
    private boolean fromDone;
    /** The original From value (after "From:"), set once the field was rewritten. */
    private byte[] original;
    private boolean replyToSeen;

    /** @param identity the from_rewrite value: an address, or "Name <address>" */
    public FromRewriter(String identity, HeaderQualifier.Sink sink) {
        this.newFrom = ("From: " + identity + "\r\n").getBytes(StandardCharsets.UTF_8);
        this.identity = address(identity);
        this.sink = sink;
        this.lines = new HeaderLines(MAX_FIELD, sink, this::line, this::giveUp);
    }

    public void write(byte[] b, int off, int len) {
        lines.write(b, off, len);
    }

    /** The end of the message: passes on what is still held. */
    public void finish() {
        if (lines.finish()) {
            endFrom();
            addReplyTo();
        }
    }

    private boolean line(byte[] l, int len) {
        boolean continuation = HeaderLines.continuation(l);
        if (continuation && from != null) {
            from.write(l, 0, len);
            if (from.size() > MAX_FIELD) {
                // Too long to be worth rewriting: passed on as it came.
                sink.write(from.toByteArray(), 0, from.size());
                from = null;
            }
            return false;
        }
        if (!continuation) {
            endFrom();
        }
        int colon = continuation ? -1 : HeaderLines.fieldName(l, len);
        if (!continuation && colon < 0) {
            // The empty line (or a line that is no field): the header section ends here.
            addReplyTo();
            sink.write(l, 0, len);
            return true;
        }
        if (colon > 0 && !fromDone && HeaderLines.is(l, colon, "from")) {
            fromDone = true;
            from = new ByteArrayOutputStream(Math.max(256, len));
            from.write(l, 0, len);
            return false;
        }
        if (colon > 0 && HeaderLines.is(l, colon, "reply-to")) {
            replyToSeen = true;
        }
        sink.write(l, 0, len);
        return false;
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
    private void giveUp(byte[] l, int len) {
        boolean continuation = HeaderLines.continuation(l);
        if (from != null && continuation) {
            from.write(l, 0, len);
            sink.write(from.toByteArray(), 0, from.size());
            from = null;
        } else {
            endFrom();
            int colon = HeaderLines.fieldName(l, len);
            if (colon > 0 && HeaderLines.is(l, colon, "reply-to")) {
                replyToSeen = true;
            }
            addReplyTo();
            sink.write(l, 0, len);
        }
        addReplyTo();
    }

    /** The address of a From value or identity: inside its last angle brackets, else the whole. */
    static String address(String value) {
        int lt = value.lastIndexOf('<');
        int gt = value.lastIndexOf('>');
        String a = lt >= 0 && gt > lt ? value.substring(lt + 1, gt) : value;
        return a.strip().toLowerCase(Locale.ROOT);
    }
}
