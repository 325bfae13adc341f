package relaybox.relay.intake;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.ByteToMessageDecoder;
import io.netty.handler.ssl.SslHandler;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Owns turning the client's byte stream into SMTP commands and message bytes. It replaces James's
 * line framer, which drops lines over 8192 bytes while the message still gets a 250, and which
 * splits on a bare LF so that {@code <LF>.<CR><LF>} ends DATA (SMTP smuggling).
 *
 * <h2>Commands</h2>
 * A command line ends at LF; CRLF and a bare LF are both accepted, as Postfix does, because a
 * command line cannot smuggle anything: it is one command either way. A command line longer than
 * {@link #MAX_COMMAND_LINE} bytes is skipped up to its end and answered {@code 500 5.5.2}.
 * After a {@code DATA} or {@code STARTTLS} line the framer pauses until the session has answered
 * it ({@link #resume}): only then does it know whether the next bytes are message bytes, commands,
 * or (after STARTTLS) something that must come through TLS. It pauses after the final dot too,
 * until the message's reply is written (after the queue's fsync), so commands pipelined behind
 * the dot are answered after it. Plain-text bytes already waiting when
 * TLS starts were pipelined behind STARTTLS: the connection is closed (command injection,
 * CVE-2011-0411 style), as James's AllButStartTls framer does.
 *
 * <h2>Message bytes</h2>
 * In DATA the bytes go to {@link DataFramer}, which removes the dot-stuffing, finds the
 * terminating {@code <CRLF>.<CRLF>} (only CRLF ends a line there) and refuses bare CR and LF.
 *
 * <h2>Flow control</h2>
 * Bytes passed on but not yet consumed are counted; above {@link #HIGH_WATER} the framer stops reading from the socket until
 * the session has caught up, so a fast client cannot fill the heap.
 *
 * <p>Thread safety: decoding runs on the channel's event loop; {@link #resume}, {@link #consumed}
 * and {@link #expectData} may be called from any thread.
 */
final class IntakeFramer extends ByteToMessageDecoder {

    private static final Logger LOG = LoggerFactory.getLogger(IntakeFramer.class);

    /** RFC 5321 allows 512; SMTPUTF8 addresses and ESMTP parameters need more. */
    static final int MAX_COMMAND_LINE = 4096;
    /** The most message bytes handed over at once. */
    static final int CHUNK = 64 * 1024;
    static final long HIGH_WATER = 1 << 20;
    static final long LOW_WATER = 256 << 10;

    /** What the framer hands to the session, besides nothing else. */
    sealed interface Event permits CommandLine, DataChunk, DataEnd, LineTooLong, BadCommandLine { }

    /** One command line, with its line end. {@code pausing}: the framer waits for {@link #resume}. */
    record CommandLine(ByteBuf line, boolean pausing) implements Event { }

    /** Message bytes, dot-stuffing removed. */
    record DataChunk(ByteBuf bytes) implements Event { }

    /** The end of the message ({@code <CRLF>.<CRLF>} seen). */
    record DataEnd(boolean bareNewline) implements Event { }

    /** A command line was longer than {@link #MAX_COMMAND_LINE} and was skipped. */
    record LineTooLong() implements Event { }

    /**
     * A command line held a NUL or a CR other than the one before its LF. It is answered 500 and
     * never executed: a CR inside EHLO's argument would otherwise reach our Received: header and
     * start a header line of the client's choosing there.
     */
    record BadCommandLine() implements Event { }

    private final boolean startTlsOffered;
    private final AtomicLong pending = new AtomicLong();
    private ChannelHandlerContext ctx;

    private final DataFramer message = new DataFramer(() -> ctx.alloc(), this::emit);

    // The fields below are used on the I/O thread only, except where marked volatile.
    private volatile boolean dataMode;
    private volatile boolean dataRequested;
    private volatile boolean normalizeRequested;
    private boolean paused;
    private boolean pausedForStartTls;
    private boolean skippingLongLine;

    IntakeFramer(boolean startTlsOffered) {
        this.startTlsOffered = startTlsOffered;
    }

    /** True while message bytes are being read (for the timeouts). */
    boolean inData() {
        return dataMode;
    }

    /** The session accepted DATA (354): the bytes after the DATA line are the message. */
    void expectData() {
        expectData(false);
    }

    /** As {@link #expectData()}; {@code normalize}: this message's bare LFs are stored as CRLF. */
    void expectData(boolean normalize) {
        normalizeRequested = normalize;
        dataRequested = true;
    }

    /** The session has answered the paused-on line; continue with whatever is buffered. */
    void resume() {
        ctx.executor().execute(() -> {
            if (!paused) {
                return;
            }
            paused = false;
            if (dataRequested) {
                dataRequested = false;
                dataMode = true;
                message.start(normalizeRequested);
            }
            if (pausedForStartTls) {
                pausedForStartTls = false;
                ByteBuf buffered = internalBuffer();
                if (ctx.pipeline().get(SslHandler.class) != null && buffered.isReadable()) {
                    LOG.warn("closing connection from {}: commands pipelined after STARTTLS",
                            ctx.channel().remoteAddress());
                    buffered.skipBytes(buffered.readableBytes());
                    ctx.close();
                    return;
                }
            }
            if (pending.get() <= LOW_WATER) {
                ctx.channel().config().setAutoRead(true);
            }
            try {
                // Decode what arrived while paused; nothing else would trigger it.
                channelRead(ctx, Unpooled.EMPTY_BUFFER);
                channelReadComplete(ctx);
            } catch (Exception e) {
                ctx.fireExceptionCaught(e);
            }
        });
    }

    /** The session has consumed {@code n} bytes it was handed. */
    void consumed(long n) {
        if (pending.addAndGet(-n) <= LOW_WATER && !ctx.channel().config().isAutoRead()) {
            ctx.executor().execute(() -> {
                if (!paused && pending.get() <= LOW_WATER) {
                    ctx.channel().config().setAutoRead(true);
                }
            });
        }
    }

    @Override
    public void handlerAdded(ChannelHandlerContext ctx) {
        this.ctx = ctx;
    }

    @Override
    protected void decode(ChannelHandlerContext ctx, ByteBuf in, List<Object> out) {
        while (in.isReadable() && !paused) {
            if (dataMode ? !decodeData(in, out) : !decodeCommand(in, out)) {
                break;
            }
        }
        message.flush(out);
        if (paused && in.readableBytes() > HIGH_WATER) {
            // A client that does not wait for our reply to DATA or STARTTLS: stop reading.
            ctx.channel().config().setAutoRead(false);
        }
    }

    /** Frames one command line; false when more bytes are needed. */
    private boolean decodeCommand(ByteBuf in, List<Object> out) {
        int lf = in.indexOf(in.readerIndex(), in.writerIndex(), (byte) '\n');
        if (skippingLongLine) {
            if (lf < 0) {
                in.skipBytes(in.readableBytes());
                return false;
            }
            in.readerIndex(lf + 1);
            skippingLongLine = false;
            return true;
        }
        if (lf < 0) {
            if (in.readableBytes() > MAX_COMMAND_LINE) {
                in.skipBytes(in.readableBytes());
                skippingLongLine = true;
                emit(out, new LineTooLong(), 1);
            }
            return false;
        }
        int len = lf + 1 - in.readerIndex();
        if (len > MAX_COMMAND_LINE) {
            in.readerIndex(lf + 1);
            emit(out, new LineTooLong(), 1);
            return true;
        }
        if (hasControlBytes(in, in.readerIndex(), lf)) {
            in.readerIndex(lf + 1);
            emit(out, new BadCommandLine(), 1);
            return true;
        }
        String verb = verb(in, len);
        boolean pausing = verb.equals("DATA") || (startTlsOffered && verb.equals("STARTTLS"));
        emit(out, new CommandLine(in.readRetainedSlice(len), pausing), len);
        if (pausing) {
            paused = true;
            pausedForStartTls = verb.equals("STARTTLS");
        }
        return true;
    }

    /** True when [from, lf) holds a NUL, or a CR that is not the one right before the LF. */
    private static boolean hasControlBytes(ByteBuf in, int from, int lf) {
        for (int i = from; i < lf; i++) {
            byte b = in.getByte(i);
            if (b == 0 || (b == '\r' && i != lf - 1)) {
                return true;
            }
        }
        return false;
    }

    /** The whole line, trimmed and in upper case, when it is short enough to be DATA or STARTTLS. */
    private static String verb(ByteBuf in, int len) {
        if (len > 16) {
            return "";
        }
        return in.toString(in.readerIndex(), len, StandardCharsets.US_ASCII).trim().toUpperCase(Locale.ROOT);
    }

    /** Reads message bytes; true at the end of the message, false when more bytes are needed. */
    private boolean decodeData(ByteBuf in, List<Object> out) {
        if (!message.decode(in, out)) {
            return false;
        }
        dataMode = false;
        // Nothing after the dot is read until the session has answered it.
        paused = true;
        return true;
    }

    private void emit(List<Object> out, Event e, long bytes) {
        out.add(e);
        if (pending.addAndGet(bytes) > HIGH_WATER) {
            ctx.channel().config().setAutoRead(false);
        }
    }

    /** Bytes an event counts for flow control; the session reports them back through {@link #consumed}. */
    static long weight(Event e) {
        if (e instanceof CommandLine c) {
            return c.line().readableBytes();
        }
        if (e instanceof DataChunk d) {
            return d.bytes().readableBytes();
        }
        return e instanceof LineTooLong || e instanceof BadCommandLine ? 1 : 0;
    }

    @Override
    protected void handlerRemoved0(ChannelHandlerContext ctx) {
        message.release();
    }
}
