package relaybox.relay.intake;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Connection limits, in total and per client address: a connection over a limit gets
 * {@code 421 4.7.0} and is closed before a session is made for it. (James's limit handlers close
 * without a word, which clients report as a network error.) Shared by all channels; runs on the
 * I/O threads.
 */
@ChannelHandler.Sharable
final class SessionGuard extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(SessionGuard.class);
    private static final AttributeKey<Boolean> COUNTED = AttributeKey.valueOf("relaybox.counted");

    private final int maxTotal;
    private final int maxPerClient;
    private final String hostname;
    private final AtomicInteger total = new AtomicInteger();
    private final ConcurrentHashMap<String, AtomicInteger> perClient = new ConcurrentHashMap<>();

    SessionGuard(int maxTotal, int maxPerClient, String hostname) {
        this.maxTotal = maxTotal;
        this.maxPerClient = maxPerClient;
        this.hostname = hostname;
    }

    int open() {
        return total.get();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        String ip = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress();
        int all = total.incrementAndGet();
        int mine = perClient.computeIfAbsent(ip, k -> new AtomicInteger()).incrementAndGet();
        ctx.channel().attr(COUNTED).set(true);
        if (all > maxTotal || mine > maxPerClient) {
            LOG.warn("refusing connection from {}: {} open in total, {} from this client", ip, all - 1, mine - 1);
            ctx.channel().attr(COUNTED).set(false);
            release(ip);
            ctx.writeAndFlush(Unpooled.copiedBuffer("421 4.7.0 " + hostname
                    + " Error: too many connections, try again later\r\n", StandardCharsets.US_ASCII))
                    .addListener(ChannelFutureListener.CLOSE);
            return;
        }
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (Boolean.FALSE.equals(ctx.channel().attr(COUNTED).get())) {
            ReferenceCountUtil.release(msg);
            return;
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        Boolean counted = ctx.channel().attr(COUNTED).get();
        if (Boolean.TRUE.equals(counted)) {
            release(((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress());
            super.channelInactive(ctx);
        }
        // A refused connection never had a session, so nothing further is told about its end.
    }

    private void release(String ip) {
        total.decrementAndGet();
        AtomicInteger n = perClient.get(ip);
        if (n != null && n.decrementAndGet() <= 0) {
            perClient.remove(ip, n);
        }
    }
}
