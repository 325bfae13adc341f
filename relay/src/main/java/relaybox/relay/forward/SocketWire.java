package relaybox.relay.forward;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelOutboundHandlerAdapter;
import io.netty.channel.ChannelPromise;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.ReferenceCountUtil;

import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.net.StandardSocketOptions;
import java.net.UnknownHostException;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.SocketChannel;
import java.nio.channels.UnresolvedAddressException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * Owns the TCP socket of one upstream session and moves bytes between it and the session's
 * Netty pipeline (TLS, the SMTP codec), which runs in an {@link EmbeddedChannel} on the thread
 * that owns the session. It sits at the head of that pipeline: what the pipeline writes is
 * written to the socket, in one gathering write per flush; {@link #readSome} reads what the
 * upstream sent and feeds it in.
 *
 * <p>Why not a Netty event loop: a session is driven by one worker thread that waits for each
 * reply anyway. Handing every command to an event loop and every reply back cost two thread
 * wake-ups per round trip, and a third of the forwarder's CPU in a drain. Here the worker
 * writes and reads the socket itself; the codec and TLS are still Netty's.
 *
 * <p>Every wait has a deadline: connect, each read ({@link #readSome}), and a write that makes
 * no progress for {@code writeTimeout}. Not thread safe: one owner thread.
 */
final class SocketWire extends ChannelOutboundHandlerAdapter {

    /** Pending output beyond this goes to the socket without waiting for a flush: a large body is streamed, not held. */
    private static final int WRITE_AHEAD = 256 * 1024;
    private static final int READ_SIZE = 32 * 1024;

    private final SocketChannel sock;
    private final Selector selector;
    private final SelectionKey key;
    private final long writeTimeoutNanos;
    private final InetSocketAddress remote;
    private final ByteBuffer in = ByteBuffer.allocateDirect(READ_SIZE);
    private final List<ByteBuf> pending = new ArrayList<>();
    private final List<ChannelPromise> promises = new ArrayList<>();
    private long pendingBytes;
    private EmbeddedChannel ch;

    private SocketWire(SocketChannel sock, Selector selector, SelectionKey key, InetSocketAddress remote,
                       Duration writeTimeout) {
        this.sock = sock;
        this.selector = selector;
        this.key = key;
        this.remote = remote;
        this.writeTimeoutNanos = writeTimeout.toNanos();
    }

    /**
     * Connects to {@code host:port} within {@code connectTimeout} and returns the wire with its
     * pipeline: this wire first, then {@code handlers} in order.
     */
    static SocketWire connect(String host, int port, Duration connectTimeout, Duration writeTimeout,
                              ChannelHandler... handlers) throws IOException {
        InetSocketAddress addr = new InetSocketAddress(host, port);
        if (addr.isUnresolved()) {
            throw new UnknownHostException(host);
        }
        SocketChannel sock = SocketChannel.open();
        Selector selector = null;
        try {
            sock.configureBlocking(false);
            sock.setOption(StandardSocketOptions.TCP_NODELAY, true);
            selector = Selector.open();
            SelectionKey key = sock.register(selector, SelectionKey.OP_CONNECT);
            try {
                if (!sock.connect(addr)) {
                    long deadline = System.nanoTime() + connectTimeout.toNanos();
                    while (!sock.finishConnect()) {
                        if (!await(selector, deadline)) {
                            throw new SocketTimeoutException("timeout after " + SmtpConnector.secs(connectTimeout));
                        }
                    }
                }
            } catch (UnresolvedAddressException e) {
                throw new UnknownHostException(host);
            }
            key.interestOps(SelectionKey.OP_READ);
            SocketWire w = new SocketWire(sock, selector, key, addr, writeTimeout);
            EmbeddedChannel ch = new EmbeddedChannel();
            ch.pipeline().addLast("wire", w);
            ch.pipeline().addLast(handlers);
            w.ch = ch;
            return w;
        } catch (IOException | RuntimeException e) {
            sock.close();
            if (selector != null) {
                selector.close();
            }
            throw e;
        }
    }

    /** The pipeline the session writes to and whose last handler collects the replies. */
    EmbeddedChannel channel() {
        return ch;
    }

    /**
     * Puts TLS between the socket and the codec. The handler starts its handshake at once;
     * {@link #readSome} carries it on.
     */
    void addTls(SslHandler tls) {
        ch.pipeline().addAfter("wire", "tls", tls);
    }

    InetSocketAddress remote() {
        return remote;
    }

    /**
     * Waits up to {@code timeoutNanos} for bytes from the upstream and passes them through the
     * pipeline (0: reads what is there, without waiting). Returns false on timeout. End of stream and I/O errors close the pipeline (its
     * handlers see them as {@code channelInactive} or {@code exceptionCaught}); true is returned.
     */
    boolean readSome(long timeoutNanos) {
        if (!sock.isOpen()) {
            ch.close();
            return true;
        }
        try {
            if (timeoutNanos > 0 && !await(selector, System.nanoTime() + timeoutNanos)) {
                return false;
            }
            in.clear();
            int n = sock.read(in);
            if (n < 0) {
                ch.close();
                return true;
            }
            if (n > 0) {
                in.flip();
                ch.writeInbound(Unpooled.buffer(n).writeBytes(in));
            }
            return true;
        } catch (IOException e) {
            ch.pipeline().fireExceptionCaught(e);
            ch.close();
            return true;
        }
    }

    /**
     * Takes in, without waiting, whatever the upstream sent unasked: an idle session's 421 or
     * its close. Nobody reads an idle socket, so this is how a session learns it died between
     * two messages instead of losing the next one to "connection closed".
     */
    void readReady() {
        if (!sock.isOpen()) {
            ch.close();
            return;
        }
        try {
            int ready = selector.selectNow();
            selector.selectedKeys().clear();
            if (ready > 0) {
                readSome(0);
            }
        } catch (IOException e) {
            ch.pipeline().fireExceptionCaught(e);
            ch.close();
        }
    }

    @Override
    public void write(ChannelHandlerContext ctx, Object msg, ChannelPromise promise) {
        if (!(msg instanceof ByteBuf b)) {
            ReferenceCountUtil.release(msg);
            promise.setFailure(new IllegalArgumentException("unexpected " + msg.getClass().getName()));
            return;
        }
        pending.add(b);
        promises.add(promise);
        pendingBytes += b.readableBytes();
        if (pendingBytes >= WRITE_AHEAD) {
            flush(ctx);
        }
    }

    @Override
    public void flush(ChannelHandlerContext ctx) {
        if (pending.isEmpty()) {
            return;
        }
        try {
            send();
            promises.forEach(ChannelPromise::trySuccess);
        } catch (IOException e) {
            promises.forEach(p -> p.tryFailure(e));
            ctx.fireExceptionCaught(e);
            ctx.close();
        } finally {
            pending.forEach(ReferenceCountUtil::safeRelease);
            pending.clear();
            promises.clear();
            pendingBytes = 0;
        }
    }

    private void send() throws IOException {
        List<ByteBuffer> out = new ArrayList<>(pending.size() + 2);
        for (ByteBuf b : pending) {
            if (b.isReadable()) {
                for (ByteBuffer nb : b.nioBuffers()) {
                    out.add(nb);
                }
            }
        }
        ByteBuffer[] bufs = out.toArray(new ByteBuffer[0]);
        int first = 0;
        long deadline = System.nanoTime() + writeTimeoutNanos;
        while (first < bufs.length) {
            long n = sock.write(bufs, first, bufs.length - first);
            while (first < bufs.length && !bufs[first].hasRemaining()) {
                first++;
            }
            if (first == bufs.length) {
                return;
            }
            if (n > 0) {
                deadline = System.nanoTime() + writeTimeoutNanos;
            }
            // The upstream is not reading as fast as we write: wait for room, but not forever.
            key.interestOps(SelectionKey.OP_WRITE);
            try {
                if (!await(selector, deadline)) {
                    throw new SocketTimeoutException("timeout after "
                            + SmtpConnector.secs(Duration.ofNanos(writeTimeoutNanos)) + " sending to the upstream");
                }
            } finally {
                key.interestOps(SelectionKey.OP_READ);
            }
        }
    }

    @Override
    public void close(ChannelHandlerContext ctx, ChannelPromise promise) throws Exception {
        pending.forEach(ReferenceCountUtil::safeRelease);
        pending.clear();
        promises.clear();
        pendingBytes = 0;
        closeSocket();
        super.close(ctx, promise);
    }

    private void closeSocket() {
        try {
            sock.close();
        } catch (IOException e) {
            // Nothing more to say to this upstream either way.
        }
        try {
            selector.close();
        } catch (IOException e) {
            // The selector only held this socket.
        }
    }

    /** Waits until the selector's one key is ready or {@code deadline} (nanoTime) passes. */
    private static boolean await(Selector selector, long deadline) throws IOException {
        while (true) {
            long left = deadline - System.nanoTime();
            if (left <= 0) {
                return false;
            }
            int ready = selector.select(Math.max(1, TimeUnit.NANOSECONDS.toMillis(left + 999_999)));
            selector.selectedKeys().clear();
            if (ready > 0) {
                return true;
            }
            if (Thread.currentThread().isInterrupted()) {
                throw new InterruptedIOException("interrupted");
            }
        }
    }
}
