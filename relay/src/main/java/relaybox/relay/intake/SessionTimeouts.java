package relaybox.relay.intake;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.intake.IntakeFramer.CommandLine;
import relaybox.relay.intake.IntakeFramer.DataChunk;
import relaybox.relay.intake.IntakeFramer.DataEnd;

import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Set;
import java.util.concurrent.TimeUnit;

/**
 * Owns a session's deadlines, which bytes do not extend: a client sending a byte now and then
 * (slowloris) gains nothing. Each phase has a total deadline fixed when it starts:
 * <ul>
 * <li>connect to EHLO/HELO: {@code intake_ehlo_timeout};</li>
 * <li>each command line, from the end of the one before (or the connect, or the final dot):
 *     {@code intake_command_timeout};</li>
 * <li>a message, from the DATA line: {@code intake_data_timeout} plus one second per
 *     {@code intake_data_min_rate} bytes received, so DATA must keep up that average rate.</li>
 * </ul>
 * Under pressure ({@link SessionGuard#underPressure()}: more than half of
 * {@code intake_max_connections} open) {@code intake_pressure_timeout} replaces each of the three,
 * so idle and slow sessions drain within seconds, as in Postfix's stress mode. A session past its
 * deadline gets {@code 421 4.4.2} and is closed.
 *
 * <p>It also records, for {@link SessionGuard}'s choice of a session to close when the total is
 * full, when the session last made progress (a command other than NOOP, RSET, HELP, VRFY, EXPN).
 *
 * <p>Sits after the framer, so it sees whole command lines and message chunks. Runs on the
 * channel's event loop; {@link #lastProgress} and {@link #evicting} are read by other loops.
 */
final class SessionTimeouts extends ChannelInboundHandlerAdapter {

    /** Commands that keep a session open without moving a message forward. */
    private static final Set<String> IDLE_VERBS = Set.of("NOOP", "RSET", "HELP", "VRFY", "EXPN", "");

    private final long commandNanos;
    private final long dataNanos;
    private final long ehloNanos;
    private final long pressureNanos;
    private final long minRate;
    private final String hostname;
    private final SessionGuard guard;
    private IntakeFramer framer;
    private long connectedAt;
    private long lineStart;
    private boolean ehloSeen;
    private long dataBytes;
    private ScheduledFuture<?> check;
    /** Last command that moved a message forward (nanoTime); the connect before the first. */
    volatile long lastProgress;
    /** Set once {@link SessionGuard} has chosen this session to make room. */
    final java.util.concurrent.atomic.AtomicBoolean evicting = new java.util.concurrent.atomic.AtomicBoolean();

    SessionTimeouts(IntakeConfig config, SessionGuard guard) {
        this.commandNanos = config.commandTimeout().toNanos();
        this.dataNanos = config.dataTimeout().toNanos();
        this.ehloNanos = config.limits().ehloTimeout().toNanos();
        this.pressureNanos = config.limits().pressureTimeout().toNanos();
        this.minRate = config.limits().dataMinRate();
        this.hostname = config.hostname();
        this.guard = guard;
        this.lastProgress = System.nanoTime();
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        framer = ctx.pipeline().get(IntakeFramer.class);
        connectedAt = System.nanoTime();
        lineStart = connectedAt;
        lastProgress = connectedAt;
        schedule(ctx, Math.min(deadline(), connectedAt + pressureNanos) - connectedAt);
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        long now = System.nanoTime();
        if (msg instanceof CommandLine c) {
            lineStart = now;
            dataBytes = 0;
            String verb = verb(c);
            if (verb.equals("EHLO") || verb.equals("HELO")) {
                ehloSeen = true;
            }
            if (!IDLE_VERBS.contains(verb)) {
                lastProgress = now;
            }
        } else if (msg instanceof DataChunk d) {
            dataBytes += d.bytes().readableBytes();
        } else if (msg instanceof DataEnd) {
            lineStart = now;
            dataBytes = 0;
            lastProgress = now;
        }
        super.channelRead(ctx, msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (check != null) {
            check.cancel(false);
        }
        super.channelInactive(ctx);
    }

    /** The current phase's deadline (nanoTime), with or without pressure. */
    private long deadline() {
        boolean pressure = guard.underPressure();
        if (framer != null && framer.inData()) {
            long grace = pressure ? Math.min(dataNanos, pressureNanos) : dataNanos;
            // Saturating: a huge byte count must not wrap the deadline into the past.
            long earned = dataBytes > Long.MAX_VALUE / 1_000_000_000L / 2 ? Long.MAX_VALUE / 4
                    : dataBytes * 1_000_000_000L / minRate;
            return lineStart + grace + earned;
        }
        long d = lineStart + (pressure ? Math.min(commandNanos, pressureNanos) : commandNanos);
        if (!ehloSeen) {
            d = Math.min(d, connectedAt + (pressure ? Math.min(ehloNanos, pressureNanos) : ehloNanos));
        }
        return d;
    }

    private void schedule(ChannelHandlerContext ctx, long delayNanos) {
        check = ctx.executor().schedule(() -> expire(ctx), Math.max(delayNanos, 1_000_000L), TimeUnit.NANOSECONDS);
    }

    private void expire(ChannelHandlerContext ctx) {
        if (!ctx.channel().isActive()) {
            return;
        }
        long now = System.nanoTime();
        long deadline = deadline();
        if (now - deadline >= 0) {
            ctx.writeAndFlush(Unpooled.copiedBuffer("421 4.4.2 " + hostname + " Error: timeout exceeded\r\n",
                    StandardCharsets.US_ASCII)).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        // Looked at again at least every pressure timeout: pressure may begin meanwhile, and then
        // the shorter deadline applies to sessions that are already open too.
        schedule(ctx, Math.min(deadline - now, pressureNanos));
    }

    private static String verb(CommandLine c) {
        io.netty.buffer.ByteBuf b = c.line();
        int n = Math.min(b.readableBytes(), 5);
        StringBuilder s = new StringBuilder(4);
        for (int i = 0; i < n; i++) {
            char ch = (char) b.getByte(b.readerIndex() + i);
            if (ch == ' ' || ch == '\r' || ch == '\n') {
                break;
            }
            s.append(ch);
        }
        return s.toString().toUpperCase(Locale.ROOT);
    }
}
