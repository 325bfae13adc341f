package relaybox.relay.intake;

import io.netty.buffer.Unpooled;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandler;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.AttributeKey;
import io.netty.util.ReferenceCountUtil;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Owns who gets a session when connections are many: the total limit
 * ({@code intake_max_connections}), the per-client limit ({@code intake_max_connections_per_client},
 * for clients outside {@code intake_networks} only), and reclaiming idle sessions.
 *
 * <h2>Policy</h2>
 * A local relay's own clients (intake_networks, loopback by default) must always be served, and
 * one local app must not lock out the others. So:
 * <ul>
 * <li>the per-client limit applies only to clients outside intake_networks (as Postfix exempts
 *     {@code $mynetworks} from its per-client limits); over it, {@code 421 4.7.0};</li>
 * <li>when the total is full, the new connection takes the place of the idlest session: one not
 *     in a transaction, from outside intake_networks first, the longest without progress first
 *     (see {@link SessionTimeouts#lastProgress}). That session is told {@code 421 4.7.0} and
 *     closed. A client outside intake_networks may only displace another such client. Only when
 *     no session can be displaced does the new connection get {@code 421 4.7.0};</li>
 * <li>above half of the total, {@link #underPressure()} shortens every session's deadlines
 *     ({@link SessionTimeouts}), so floods drain by themselves.</li>
 * </ul>
 * The answer always comes before a session is made: James's limit handlers close without a word,
 * which clients report as a network error. Shared by all channels; runs on the I/O threads.
 */
@ChannelHandler.Sharable
final class SessionGuard extends ChannelInboundHandlerAdapter {

    private static final Logger LOG = LoggerFactory.getLogger(SessionGuard.class);
    /** Set on a channel that was admitted: TRUE when it counts towards its client's limit too. */
    private static final AttributeKey<Boolean> COUNTED = AttributeKey.valueOf("relaybox.counted");
    private static final AttributeKey<Boolean> PER_CLIENT = AttributeKey.valueOf("relaybox.perClient");

    private final int maxTotal;
    private final int maxPerClient;
    private final String hostname;
    private final RelayPolicy trusted;
    private final AtomicInteger total = new AtomicInteger();
    private final ConcurrentHashMap<String, AtomicInteger> perClient = new ConcurrentHashMap<>();
    private final Set<Channel> admitted = ConcurrentHashMap.newKeySet();
    private final AtomicLong evicted = new AtomicLong();
    /** A flood makes dozens of these a second: one log line per second at most, with the count. */
    private final AtomicLong nextLog = new AtomicLong(System.nanoTime());
    private final AtomicLong unlogged = new AtomicLong();

    SessionGuard(int maxTotal, int maxPerClient, String hostname, RelayPolicy trusted) {
        this.maxTotal = maxTotal;
        this.maxPerClient = maxPerClient;
        this.hostname = hostname;
        this.trusted = trusted;
    }

    int open() {
        return total.get();
    }

    /** Sessions closed so far to make room for a new connection. */
    long evicted() {
        return evicted.get();
    }

    /** More than half of {@code intake_max_connections} are open: sessions get shorter deadlines. */
    boolean underPressure() {
        return total.get() > maxTotal / 2;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        InetAddress address = ((InetSocketAddress) ctx.channel().remoteAddress()).getAddress();
        String ip = address.getHostAddress();
        boolean local = trusted.allows(address, false);
        if (!local) {
            int mine = perClient.computeIfAbsent(ip, k -> new AtomicInteger()).incrementAndGet();
            if (mine > maxPerClient) {
                releaseClient(ip);
                refuse(ctx, ip, "too many connections from " + ip + " (" + (mine - 1) + " open)");
                return;
            }
        }
        int all = total.incrementAndGet();
        if (all > maxTotal && !makeRoom(ctx.channel(), local)) {
            total.decrementAndGet();
            if (!local) {
                releaseClient(ip);
            }
            refuse(ctx, ip, all - 1 + " open in total, none idle");
            return;
        }
        ctx.channel().attr(COUNTED).set(true);
        ctx.channel().attr(PER_CLIENT).set(!local);
        admitted.add(ctx.channel());
        super.channelActive(ctx);
    }

    private void refuse(ChannelHandlerContext ctx, String ip, String why) {
        logLimited("refusing connection from " + ip + ": " + why);
        ctx.channel().attr(COUNTED).set(false);
        ctx.writeAndFlush(Unpooled.copiedBuffer("421 4.7.0 " + hostname
                + " Error: too many connections, try again later\r\n", StandardCharsets.US_ASCII))
                .addListener(ChannelFutureListener.CLOSE);
    }

    /**
     * Chooses the idlest session that {@code newcomer} may displace and closes it; false when
     * there is none. Runs on the newcomer's loop; the chosen session is closed on its own.
     */
    private boolean makeRoom(Channel newcomer, boolean local) {
        // Another loop may pick the same session at the same moment: the loser looks again.
        for (int attempt = 0; attempt < 8; attempt++) {
            Channel best = idlest(newcomer, local);
            if (best == null) {
                return false;
            }
            SessionTimeouts t = best.pipeline().get(SessionTimeouts.class);
            if (t != null && t.evicting.compareAndSet(false, true)) {
                evict(best, newcomer);
                return true;
            }
        }
        return false;
    }

    /** The session {@code newcomer} may displace, or null. */
    private Channel idlest(Channel newcomer, boolean local) {
        Channel best = null;
        boolean bestLocal = true;
        long bestProgress = Long.MAX_VALUE;
        for (Channel c : admitted) {
            SessionTimeouts t = c.pipeline().get(SessionTimeouts.class);
            IntakeSession s = IntakeCoreHandler.session(c);
            if (c == newcomer || t == null || t.evicting.get() || (s != null && s.transaction() != null)) {
                continue;
            }
            boolean cLocal = trusted.allows(((InetSocketAddress) c.remoteAddress()).getAddress(), false);
            if (cLocal && !local) {
                continue;
            }
            long p = t.lastProgress;
            // Outside intake_networks first, then the longest without progress.
            if (best == null || (bestLocal && !cLocal) || (bestLocal == cLocal && p - bestProgress < 0)) {
                best = c;
                bestLocal = cLocal;
                bestProgress = p;
            }
        }
        return best;
    }

    private void evict(Channel victim, Channel newcomer) {
        evicted.incrementAndGet();
        logLimited("closing idle session from " + victim.remoteAddress() + " to make room for " + newcomer.remoteAddress());
        victim.eventLoop().execute(() -> victim.writeAndFlush(Unpooled.copiedBuffer("421 4.7.0 " + hostname
                + " Error: too many connections, closing idle session\r\n", StandardCharsets.US_ASCII))
                .addListener(ChannelFutureListener.CLOSE));
    }

    private void logLimited(String line) {
        long now = System.nanoTime();
        long next = nextLog.get();
        if (now - next >= 0 && nextLog.compareAndSet(next, now + 1_000_000_000L)) {
            long more = unlogged.getAndSet(0);
            LOG.warn("{}{}", line, more == 0 ? "" : " (and " + more + " more refused or closed in the last second)");
        } else {
            unlogged.incrementAndGet();
        }
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
            admitted.remove(ctx.channel());
            total.decrementAndGet();
            if (Boolean.TRUE.equals(ctx.channel().attr(PER_CLIENT).get())) {
                releaseClient(((InetSocketAddress) ctx.channel().remoteAddress()).getAddress().getHostAddress());
            }
            super.channelInactive(ctx);
        }
        // A refused connection never had a session, so nothing further is told about its end.
    }

    private void releaseClient(String ip) {
        AtomicInteger n = perClient.get(ip);
        if (n != null && n.decrementAndGet() <= 0) {
            perClient.remove(ip, n);
        }
    }
}
