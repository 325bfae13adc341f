package relaybox.relay.intake;

import io.netty.channel.ChannelHandlerContext;
import org.apache.james.protocols.api.Protocol;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.api.ProtocolSessionImpl;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.netty.BasicChannelInboundHandler;
import org.apache.james.protocols.netty.Encryption;
import org.apache.james.protocols.netty.ProtocolMDCContextFactory;
import org.apache.james.protocols.smtp.SMTPResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.relay.intake.IntakeFramer.CommandLine;
import relaybox.relay.intake.IntakeFramer.DataChunk;
import relaybox.relay.intake.IntakeFramer.DataEnd;
import relaybox.relay.intake.IntakeFramer.Event;
import relaybox.relay.intake.IntakeFramer.BadCommandLine;
import relaybox.relay.intake.IntakeFramer.LineTooLong;

/**
 * Runs one SMTP session on its worker thread: commands go to James's handler chain, message
 * bytes and the end of the message go to the session's {@link Transaction}. Runs on a worker
 * thread, never on the I/O thread, because the end of a message waits for the queue's commit.
 * Tells the framer when it has consumed what it was handed (flow control) and when it has
 * answered a line the framer paused on.
 */
final class IntakeCoreHandler extends BasicChannelInboundHandler {

    private static final Logger LOG = LoggerFactory.getLogger(IntakeCoreHandler.class);
    private static final Response LINE_TOO_LONG =
            new SMTPResponse("500", "5.5.2 Error: line too long").immutable();
    private static final Response BAD_COMMAND_LINE =
            new SMTPResponse("500", "5.5.2 Error: NUL or bare CR in command line").immutable();

    IntakeCoreHandler(Protocol protocol, Encryption startTls) {
        super(new ProtocolMDCContextFactory.Standard(), protocol, startTls, false);
    }

    @Override
    protected ProtocolSession createSession(ChannelHandlerContext ctx) {
        ProtocolSession s = super.createSession(ctx);
        ((IntakeSession) s).framer(ctx.pipeline().get(IntakeFramer.class));
        return s;
    }

    @Override
    public void channelRead(ChannelHandlerContext ctx, Object msg) throws Exception {
        if (!(msg instanceof Event event)) {
            super.channelRead(ctx, msg);
            return;
        }
        IntakeFramer framer = ctx.pipeline().get(IntakeFramer.class);
        long weight = IntakeFramer.weight(event);
        try {
            IntakeSession session = (IntakeSession) ctx.channel().attr(SESSION_ATTRIBUTE_KEY).get();
            if (event instanceof CommandLine c) {
                super.channelRead(ctx, c.line());
                if (c.pausing() && framer != null) {
                    framer.resume();
                }
            } else if (event instanceof DataChunk d) {
                try {
                    if (session != null) {
                        session.dataChunk(d.bytes());
                    }
                } finally {
                    d.bytes().release();
                }
            } else if (event instanceof DataEnd end) {
                if (session != null) {
                    write(session, session.dataEnd(end.bareNewline()));
                    session.resetState();
                }
            } else if (event instanceof LineTooLong) {
                if (session != null) {
                    write(session, LINE_TOO_LONG);
                }
            } else if (event instanceof BadCommandLine) {
                if (session != null) {
                    write(session, BAD_COMMAND_LINE);
                }
            }
        } catch (RuntimeException e) {
            // A bug must not leave the client waiting: close (the client keeps its message and
            // retries) and log loudly. Whatever was reserved is discarded by the disconnect.
            LOG.error("session failed on {}", event.getClass().getSimpleName(), e);
            ctx.close();
        } finally {
            if (framer != null) {
                framer.consumed(weight);
            }
        }
    }

    private static void write(IntakeSession session, Response r) {
        if (r != null) {
            ((ProtocolSessionImpl) session).getProtocolTransport().writeResponse(r, session);
        }
    }

}
