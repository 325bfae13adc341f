package relaybox.relay.forward;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;

/**
 * Owns dot-stuffing (RFC 5321 4.5.2) of a message streamed in chunks: a "." at the start of a
 * line gets a second "." in front of it. Every other byte goes out unchanged, line ends included,
 * so what the upstream stores after un-stuffing is exactly the queued bytes. State carries across
 * chunks, so a line start that falls on a chunk boundary is still seen.
 */
final class DotStuffer {

    private boolean lineStart = true;
    private boolean any;
    private byte last;
    private byte beforeLast;

    /** Returns the stuffed form of {@code src[off, off+len)} in a new buffer. */
    ByteBuf stuff(ByteBufAllocator alloc, byte[] src, int off, int len) {
        ByteBuf out = alloc.buffer(len + 16);
        int from = off;
        int end = off + len;
        for (int i = off; i < end; i++) {
            byte b = src[i];
            if (lineStart && b == '.') {
                out.writeBytes(src, from, i - from);
                out.writeByte('.');
                from = i;
            }
            lineStart = b == '\n';
        }
        out.writeBytes(src, from, end - from);
        if (len > 0) {
            any = true;
            beforeLast = len > 1 ? src[end - 2] : last;
            last = src[end - 1];
        }
        return out;
    }

    /**
     * What must precede the final ".": a CRLF when the message does not end with one, because the
     * terminating line must stand on its own (an intake normally stores messages ending in CRLF).
     */
    byte[] tail() {
        if (any && last == '\n' && beforeLast == '\r') {
            return new byte[0];
        }
        return new byte[] {'\r', '\n'};
    }
}
