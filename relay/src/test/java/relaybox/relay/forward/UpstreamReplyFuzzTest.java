package relaybox.relay.forward;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.DecoderException;
import io.netty.handler.codec.smtp.SmtpResponse;
import io.netty.handler.codec.smtp.SmtpResponseDecoder;

import java.util.ArrayList;
import java.util.List;

/**
 * Fuzzes how the forwarder reads its upstream: replies as Netty's decoder frames them (with the
 * forwarder's line limit), turned into {@link UpstreamReply} as the session does, classified by
 * {@link FailurePolicy} at every stage, and read as an EHLO reply (extensions, LIMITS). Also the
 * operator's {@code temporary_replies} rules. Nothing here may throw: a hostile or broken upstream
 * must end in a deferral, never in a dead worker.
 */
class UpstreamReplyFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void upstreamReplies(FuzzedDataProvider in) {
        String rule = in.consumeString(60);
        List<ReplyRule> rules = new ArrayList<>();
        try {
            rules.add(ReplyRule.parse(rule));
        } catch (IllegalArgumentException e) {
            // a bad rule is refused at config time
        }
        FailurePolicy policy = new FailurePolicy(rules);
        EmbeddedChannel ch = new EmbeddedChannel(new SmtpResponseDecoder(SmtpConnector.MAX_REPLY_LINE));
        try {
            while (in.remainingBytes() > 0) {
                try {
                    ch.writeInbound(Unpooled.wrappedBuffer(in.consumeBytes(1 + in.consumeInt(0, 500))));
                } catch (DecoderException e) {
                    // the session sees exceptionCaught and defers; the decoder goes on
                }
                Object o;
                while ((o = ch.readInbound()) != null) {
                    SmtpResponse r = (SmtpResponse) o;
                    List<String> lines = new ArrayList<>();
                    r.details().forEach(d -> lines.add(d.toString()));
                    UpstreamReply reply = new UpstreamReply(r.code(), lines);
                    reply.toString();
                    for (Stage s : Stage.values()) {
                        policy.reply(s, reply);
                    }
                    Ehlo.parse(reply, 100);
                }
            }
        } finally {
            try {
                ch.finishAndReleaseAll();
            } catch (DecoderException e) {
                // a partial last line, decoded when the channel closes
            }
        }
    }
}
