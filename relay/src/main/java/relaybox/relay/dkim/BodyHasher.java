package relaybox.relay.dkim;

import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;

/**
 * Canonicalises a message body as it streams past (RFC 6376 §3.4.3, §3.4.4) and hashes it with
 * SHA-256, in constant memory. Owns only the body hash; header handling is elsewhere.
 *
 * <p>Why a byte-level state machine: trailing empty lines must be dropped, but whether a CRLF is
 * "trailing" is only known once more content arrives, possibly in a later chunk. So line ends are
 * never written at once: they are counted, and written when content follows; at the end exactly
 * one CRLF closes a non-empty body. Whitespace in relaxed mode is held the same way, because a run
 * of SP/HTAB is either collapsed to one SP (content follows) or deleted (the line ends).
 *
 * <p>A CR not followed by LF is ordinary content. The intake refuses bare CR and LF anyway.
 */
public final class BodyHasher {

    private final boolean relaxed;
    private final boolean[] plain;
    private static final boolean[] SIMPLE_PLAIN = table(false);
    private static final boolean[] RELAXED_PLAIN = table(true);

    private final MessageDigest digest;
    private final byte[] out = new byte[8192];
    private int outLen;
    private long pendingCrlf;      // line ends seen but not yet written
    private boolean pendingWsp;    // relaxed: SP/HTAB seen since the last content byte of this line
    private boolean sawCr;         // last byte was CR, not yet known to start a CRLF
    private boolean anyContent;    // something other than line ends has been written
    private byte[] result;

    public BodyHasher(Canonicalization c) {
        this.relaxed = c == Canonicalization.RELAXED;
        this.plain = relaxed ? RELAXED_PLAIN : SIMPLE_PLAIN;
        try {
            this.digest = MessageDigest.getInstance("SHA-256");
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("the JDK has no SHA-256", e);
        }
    }

    public void update(byte[] b, int off, int len) {
        if (result != null) {
            throw new IllegalStateException("body hash already finished");
        }
        int end = off + len;
        int i = off;
        while (i < end) {
            byte c = b[i];
            if (!sawCr && plain(c)) {
                // Fast path: a run of ordinary bytes is copied as is, after whatever was pending. In
                // relaxed mode a single SP between ordinary bytes is unchanged too, so ordinary text
                // goes through as whole lines rather than word by word.
                int j = i + 1;
                while (j < end) {
                    byte x = b[j];
                    if (plain(x)) {
                        j++;
                    } else if (x == ' ' && j + 1 < end && plain(b[j + 1])) {
                        j += 2;
                    } else {
                        break;
                    }
                }
                content(b, i, j - i);
                i = j;
                continue;
            }
            i++;
            if (c == '\n' && sawCr) {
                sawCr = false;
                pendingWsp = false; // relaxed: whitespace at the end of a line is deleted
                pendingCrlf++;
                continue;
            }
            if (sawCr) {
                sawCr = false;
                content((byte) '\r');
            }
            if (c == '\r') {
                sawCr = true;
            } else if (relaxed && (c == ' ' || c == '\t')) {
                pendingWsp = true;
            } else {
                content(c);
            }
        }
    }

    /** Not CR or LF, and in relaxed mode not SP or HTAB either: a byte that is always written. */
    private boolean plain(byte c) {
        return plain[c & 0xff];
    }

    /** The SHA-256 of the canonical body; idempotent. */
    public byte[] finish() {
        if (result == null) {
            if (sawCr) {
                sawCr = false;
                content((byte) '\r');
            }
            // simple: an empty body is one CRLF; relaxed: an empty body stays empty (erratum 3192).
            if (anyContent || !relaxed) {
                emit((byte) '\r');
                emit((byte) '\n');
            }
            digest.update(out, 0, outLen);
            outLen = 0;
            result = digest.digest();
        }
        return result.clone();
    }

    private void content(byte c) {
        flushPending();
        emit(c);
    }

    private void content(byte[] b, int off, int len) {
        flushPending();
        if (len > out.length - outLen) {
            digest.update(out, 0, outLen);
            outLen = 0;
            if (len > out.length) {
                digest.update(b, off, len);
                return;
            }
        }
        System.arraycopy(b, off, out, outLen, len);
        outLen += len;
    }

    private void flushPending() {
        for (; pendingCrlf > 0; pendingCrlf--) {
            emit((byte) '\r');
            emit((byte) '\n');
        }
        if (pendingWsp) {
            pendingWsp = false;
            emit((byte) ' ');
        }
        anyContent = true;
    }

    private static boolean[] table(boolean relaxed) {
        boolean[] t = new boolean[256];
        for (int c = 0; c < 256; c++) {
            t[c] = c != '\r' && c != '\n' && (!relaxed || (c != ' ' && c != '\t'));
        }
        return t;
    }

    private void emit(byte c) {
        if (outLen == out.length) {
            digest.update(out, 0, outLen);
            outLen = 0;
        }
        out[outLen++] = c;
    }
}
