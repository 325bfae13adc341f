package relaybox.relay.intake;

import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.util.concurrent.ScheduledFuture;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * Closes a connection whose client has sent nothing for too long: {@code intake_command_timeout}
 * between commands, {@code intake_data_timeout} while message bytes arrive. The client gets
 * {@code 421 4.4.2} first. Runs on the channel's I/O thread.
 */
final class SessionTimeouts extends ChannelInboundHandlerAdapter {

    private final long commandNanos;
    private final long dataNanos;
    private final String hostname;
    private long lastRead;
    private ScheduledFuture<?> check;

    SessionTimeouts(Duration command, Duration data, String hostname) {
        this.commandNanos = command.toNanos();
        this.dataNanos = data.toNanos();
        this.hostname = hostname;
    }

    @Override
    public void channelActive(ChannelHandlerContext ctx) throws Exception {
        lastRead = System.nanoTime();
        schedule(ctx, commandNanos);
        super.channelActive(ctx);
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        lastRead = System.nanoTime();
        super.channelRead(ctx, msg);
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        if (check != null) {
            check.cancel(false);
        }
        super.channelInactive(ctx);
    }

    private void schedule(ChannelHandlerContext ctx, long delayNanos) {
        check = ctx.executor().schedule(() -> expire(ctx), delayNanos, TimeUnit.NANOSECONDS);
    }

    private void expire(ChannelHandlerContext ctx) {
        if (!ctx.channel().isActive()) {
            return;
        }
        IntakeFramer framer = ctx.pipeline().get(IntakeFramer.class);
        long limit = framer != null && framer.inData() ? dataNanos : commandNanos;
        long idle = System.nanoTime() - lastRead;
        if (idle >= limit) {
            ctx.writeAndFlush(Unpooled.copiedBuffer("421 4.4.2 " + hostname + " Error: timeout exceeded\r\n",
                    StandardCharsets.US_ASCII)).addListener(ChannelFutureListener.CLOSE);
            return;
        }
        schedule(ctx, limit - idle);
    }
}
