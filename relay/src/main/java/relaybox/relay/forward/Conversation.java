package relaybox.relay.forward;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.smtp.SmtpResponse;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;

/**
 * Owns the line-level exchange on one upstream connection, shared by the session's opening
 * ({@link SessionOpening}) and its transactions ({@link MailTransaction}): the pipeline's decoded
 * replies in order, reading the next one with a deadline, and closing. It does not decide what a
 * reply means. Not thread safe: one owner thread.
 */
final class Conversation {

    private static final Object CLOSED = new Object();

    /** Collects what the pipeline decoded (replies, close, errors) for the session to take in order. */
    static final class Inbox extends ChannelInboundHandlerAdapter {
        final Queue<Object> queue = new ArrayDeque<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            if (msg instanceof SmtpResponse r) {
                List<String> lines = new ArrayList<>(r.details().size());
                r.details().forEach(d -> lines.add(d.toString()));
                queue.add(new UpstreamReply(r.code(), lines));
            }
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            queue.add(CLOSED);
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            queue.add(cause);
            ctx.close();
        }
    }

    final SocketWire wire;
    final EmbeddedChannel ch;
    final Inbox inbox;
    /** The upstream as log lines show it: host[ip]:port. */
    final String shown;

    Conversation(SocketWire wire, Inbox inbox, String host) {
        this.wire = wire;
        this.ch = wire.channel();
        this.inbox = inbox;
        InetSocketAddress a = wire.remote();
        this.shown = host + "[" + a.getAddress().getHostAddress() + "]:" + a.getPort();
    }

    /** The next reply, waiting at most {@code timeout}; a close, an error or the deadline throws. */
    UpstreamReply read(Duration timeout) throws SessionException {
        long deadline = System.nanoTime() + timeout.toNanos();
        Object o;
        while ((o = inbox.queue.poll()) == null) {
            if (Thread.currentThread().isInterrupted()) {
                throw new SessionException("interrupted");
            }
            long left = deadline - System.nanoTime();
            if (left <= 0 || !wire.readSome(left)) {
                throw new SessionException("timeout after " + SmtpConnector.secs(timeout));
            }
        }
        if (o == CLOSED) {
            inbox.queue.add(CLOSED);
            throw new SessionException("connection closed by upstream");
        }
        if (o instanceof Throwable t) {
            throw new SessionException(FailurePolicy.describe(t), t);
        }
        return (UpstreamReply) o;
    }

    /** Writes one line as is (AUTH responses: the codec has no request type for them). */
    void raw(String line) {
        ch.writeAndFlush(Unpooled.copiedBuffer(line + "\r\n", StandardCharsets.US_ASCII));
    }

    /** Forgets every reply read but not taken (RFC 3207: nothing learnt before TLS counts). */
    void forgetReplies() {
        inbox.queue.removeIf(o -> o instanceof UpstreamReply);
    }

    /** True when the upstream said or did something while nobody asked (idle session). */
    boolean spokeUnasked() {
        wire.readReady();
        return !inbox.queue.isEmpty() || !ch.isActive();
    }

    /** What the upstream said unasked, for the debug log. */
    Object unasked() {
        return inbox.queue.peek();
    }

    void close() {
        ch.close();
    }
}
