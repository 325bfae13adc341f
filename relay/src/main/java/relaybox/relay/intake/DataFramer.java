package relaybox.relay.intake;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.ByteBufAllocator;
import relaybox.relay.intake.IntakeFramer.DataChunk;
import relaybox.relay.intake.IntakeFramer.DataEnd;
import relaybox.relay.intake.IntakeFramer.Event;

import java.util.List;
import java.util.function.Supplier;

/**
 * Owns the message bytes of one DATA for {@link IntakeFramer}: removes the dot-stuffing and finds
 * the terminating {@code <CRLF>.<CRLF>}. In DATA only CRLF ends a line. The session gets the
 * message bytes in {@link DataChunk}s of at most {@link IntakeFramer#CHUNK} bytes, so a long line
 * passes whole without the framer ever holding more than one chunk. A bare CR or bare LF marks the
 * message as bad: nothing more is passed on, the bytes are read up to the real terminator, and
 * {@link DataEnd#bareNewline()} tells the session to refuse it with 550 and close (Postfix's
 * {@code smtpd_forbid_bare_newline = reject}).
 *
 * <p>In normalize mode (asked for per message, for trusted clients only) a bare LF is passed on
 * as CRLF instead, as Postfix's {@code normalize} does. The end of the message is still only
 * {@code <CRLF>.<CRLF>}: a line that follows a bare LF has its leading dot removed (it was
 * dot-stuffed, as smtplib does after every LF) but can never end the message, so
 * {@code <LF>.<LF>}, {@code <LF>.<CR><LF>} and {@code <CR><LF>.<LF>} neither end nor split it. A
 * bare CR is refused in both modes.
 *
 * <p>Used on the channel's event loop only.
 */
final class DataFramer {

    /** How the framer passes an event on and counts its bytes for flow control. */
    @FunctionalInterface
    interface Emitter {
        void emit(List<Object> out, Event e, long bytes);
    }

    private final Supplier<ByteBufAllocator> alloc;
    private final Emitter emitter;

    /** This message's bare LFs become CRLF (trusted client, intake_bare_newline = normalize). */
    private boolean normalize;
    /** At the start of a line that follows a normalised bare LF: a dot is unstuffed, never an end. */
    private boolean afterBareLf;
    private boolean atLineStart;
    private boolean bareNewline;
    private ByteBuf data;

    DataFramer(Supplier<ByteBufAllocator> alloc, Emitter emitter) {
        this.alloc = alloc;
        this.emitter = emitter;
    }

    /** A new message begins with the next byte. */
    void start(boolean normalizeBareLf) {
        atLineStart = true;
        bareNewline = false;
        afterBareLf = false;
        normalize = normalizeBareLf;
    }

    /**
     * Reads message bytes; true once the terminating dot was read and {@link DataEnd} emitted (no
     * byte after it is read), false when more bytes are needed to decide.
     */
    boolean decode(ByteBuf in, List<Object> out) {
        while (in.isReadable()) {
            int r = in.readerIndex();
            if (afterBareLf) {
                afterBareLf = false;
                if (in.getByte(r) == '.') {
                    // Dot-stuffed after a bare LF: unstuffed, but this line never ends the message.
                    in.skipBytes(1);
                    continue;
                }
            }
            if (atLineStart && in.getByte(r) == '.') {
                if (in.readableBytes() < 3) {
                    if (in.readableBytes() == 2 && in.getByte(r + 1) != '\r') {
                        in.skipBytes(1);
                        atLineStart = false;
                        continue;
                    }
                    return false;
                }
                if (in.getByte(r + 1) == '\r' && in.getByte(r + 2) == '\n') {
                    in.skipBytes(3);
                    flush(out);
                    emitter.emit(out, new DataEnd(bareNewline), 0);
                    bareNewline = false;
                    return true;
                }
                // RFC 5321 4.5.2: a leading dot is removed when the line has more characters.
                in.skipBytes(1);
                atLineStart = false;
                continue;
            }
            atLineStart = false;
            int room = IntakeFramer.CHUNK - (data == null ? 0 : data.readableBytes());
            int limit = Math.min(in.readableBytes(), room);
            int i = in.forEachByte(r, limit, b -> b != '\r' && b != '\n');
            if (i < 0) {
                take(in, limit, out);
                continue;
            }
            take(in, i - r, out);
            if (in.getByte(i) == '\n') {
                // A bare LF never starts a new line, so "\n.\r\n" cannot end the message.
                if (normalize && !bareNewline) {
                    takeCr(out);
                    take(in, 1, out);
                    afterBareLf = true;
                    continue;
                }
                bareNewline = true;
                take(in, 1, out);
                continue;
            }
            if (i + 1 >= in.writerIndex()) {
                return false;
            }
            if (in.getByte(i + 1) == '\n') {
                take(in, 2, out);
                atLineStart = true;
            } else {
                bareNewline = true;
                take(in, 1, out);
            }
        }
        return false;
    }

    /** Moves {@code n} message bytes to the chunk being filled, or drops them once the message is bad. */
    private void take(ByteBuf in, int n, List<Object> out) {
        if (n == 0) {
            return;
        }
        if (bareNewline) {
            in.skipBytes(n);
            return;
        }
        if (data == null) {
            data = alloc.get().buffer(Math.min(IntakeFramer.CHUNK, Math.max(n, 4096)), IntakeFramer.CHUNK + 2);
        }
        data.writeBytes(in, n);
        if (data.readableBytes() >= IntakeFramer.CHUNK) {
            flush(out);
        }
    }

    /** The CR that makes a normalised bare LF a CRLF. */
    private void takeCr(List<Object> out) {
        if (data == null) {
            data = alloc.get().buffer(4096, IntakeFramer.CHUNK + 2);
        }
        data.writeByte('\r');
        if (data.readableBytes() >= IntakeFramer.CHUNK) {
            flush(out);
        }
    }

    /** Passes on the bytes gathered so far. */
    void flush(List<Object> out) {
        if (data != null && data.isReadable()) {
            ByteBuf d = data;
            data = null;
            emitter.emit(out, new DataChunk(d), d.readableBytes());
        }
    }

    /** The channel is gone: frees the chunk being filled. */
    void release() {
        if (data != null) {
            data.release();
            data = null;
        }
    }
}
