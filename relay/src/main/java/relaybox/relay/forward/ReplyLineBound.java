package relaybox.relay.forward;

import io.netty.buffer.ByteBuf;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import io.netty.handler.codec.TooLongFrameException;
import io.netty.util.ReferenceCountUtil;

/**
 * Ends an upstream session whose reply line grows past {@code max} bytes without a line end.
 * Netty's SMTP reply decoder discards an overlong line until its end arrives, so an upstream that
 * never ends its line kept the session's thread reading (and the CPU busy) until the reply's
 * timeout, a minute or more; here the session fails as soon as the line is too long. Sits after
 * TLS, before the decoder, so it sees plain text.
 */
final class ReplyLineBound extends ChannelInboundHandlerAdapter {

    private final int max;
    private int sinceLineEnd;
    private boolean failed;

    ReplyLineBound(int max) {
        this.max = max;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) {
        if (failed) {
            ReferenceCountUtil.release(msg);
            return;
        }
        if (msg instanceof ByteBuf b) {
            int lastLf = b.forEachByteDesc(b.readerIndex(), b.readableBytes(), x -> x != '\n');
            sinceLineEnd = lastLf < 0 ? sinceLineEnd + b.readableBytes() : b.writerIndex() - lastLf - 1;
            // A whole overlong line inside one buffer is the decoder's to report, once its end is there.
            if (sinceLineEnd > max) {
                failed = true;
                ReferenceCountUtil.release(msg);
                ctx.fireExceptionCaught(new TooLongFrameException("upstream reply line longer than " + max
                        + " bytes without a line end"));
                ctx.close();
                return;
            }
        }
        ctx.fireChannelRead(msg);
    }
}
