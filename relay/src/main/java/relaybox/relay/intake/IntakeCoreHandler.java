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
import org.apache.james.util.MDCBuilder;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.relay.intake.IntakeFramer.CommandLine;
import relaybox.relay.intake.IntakeFramer.DataChunk;
import relaybox.relay.intake.IntakeFramer.DataEnd;
import relaybox.relay.intake.IntakeFramer.Event;
import relaybox.relay.intake.IntakeFramer.BadCommandLine;
import relaybox.relay.intake.IntakeFramer.LineTooLong;

import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionStage;

/**
 * Runs one SMTP session on its event loop: commands go to James's handler chain, message bytes
 * and the end of the message go to the session's {@link Transaction}. Nothing here waits: the end
 * of a message returns a stage that the queue completes after its group fsync, and the reply is
 * written then. Tells the framer when it has consumed what it was handed (flow control) and when
 * it has answered a line the framer paused on (DATA, STARTTLS, the final dot).
 */
final class IntakeCoreHandler extends BasicChannelInboundHandler {

    private static final Logger LOG = LoggerFactory.getLogger(IntakeCoreHandler.class);
    private static final Response LINE_TOO_LONG =
            new SMTPResponse("500", "5.5.2 Error: line too long").immutable();
    private static final Response BAD_COMMAND_LINE =
            new SMTPResponse("500", "5.5.2 Error: NUL or bare CR in command line").immutable();

    private final AuthExchange auth;
    /** Events that arrived while an AUTH check ran; handed on, in order, when it is answered. */
    private final java.util.ArrayDeque<Event> held = new java.util.ArrayDeque<>();
    private boolean holding;

    IntakeCoreHandler(Protocol protocol, Encryption startTls, AuthExchange auth) {
        super(NO_MDC, protocol, startTls, false);
        this.auth = auth;
    }

    /**
     * James's standard MDC context resolves the client's host name, a blocking reverse lookup on
     * the event loop for every connection (a slow resolver would stall every session on the loop),
     * and rebuilds a map per command. Our log lines carry what they need themselves.
     */
    private static final ProtocolMDCContextFactory NO_MDC = new ProtocolMDCContextFactory() {
        @Override
        public MDCBuilder onBound(Protocol protocol, ChannelHandlerContext ctx) {
            return MDCBuilder.create();
        }

        @Override
        public MDCBuilder withContext(ProtocolSession session) {
            return MDCBuilder.create();
        }
    };

    /** The session of {@code channel}, or null before it has one; for {@link SessionGuard}. */
    static IntakeSession session(io.netty.channel.Channel channel) {
        return (IntakeSession) channel.attr(SESSION_ATTRIBUTE_KEY).get();
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
        if (holding) {
            // Its flow-control weight is reported when it is handed on, so a client that keeps
            // sending while its password is checked is soon not read at all.
            held.add(event);
            return;
        }
        handle(ctx, event);
    }

    private void handle(ChannelHandlerContext ctx, Event event) throws Exception {
        IntakeFramer framer = ctx.pipeline().get(IntakeFramer.class);
        long weight = IntakeFramer.weight(event);
        try {
            IntakeSession session = (IntakeSession) ctx.channel().attr(SESSION_ATTRIBUTE_KEY).get();
            if (event instanceof CommandLine c) {
                if (session != null && auth != null
                        && auth.onLine(session, c.line().toString(StandardCharsets.UTF_8), reply(ctx, session))) {
                    c.line().release();
                } else {
                    super.channelRead(ctx, c.line());
                }
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
                CompletionStage<Response> reply = session == null ? null : session.dataEnd(end.bareNewline(), ctx.executor());
                if (reply == null) {
                    resume(framer);
                } else {
                    // The framer stays paused until the reply is out, so commands pipelined behind
                    // the dot are answered after it, in order.
                    reply.whenComplete((r, failure) -> {
                        try {
                            if (failure != null) {
                                LOG.error("session failed at the end of a message", failure);
                                ctx.close();
                                return;
                            }
                            write(session, r);
                            session.resetState();
                        } finally {
                            resume(framer);
                        }
                    });
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

    /** How {@link AuthExchange} answers on this connection and holds its input during a check. */
    private AuthExchange.Reply reply(ChannelHandlerContext ctx, IntakeSession session) {
        return new AuthExchange.Reply() {
            @Override
            public void write(Response r) {
                IntakeCoreHandler.write(session, r);
            }

            @Override
            public void hold() {
                holding = true;
            }

            @Override
            public void resume(Response r) {
                holding = false;
                if (!ctx.channel().isActive()) {
                    releaseHeld();
                    return;
                }
                write(r);
                try {
                    while (!holding && !held.isEmpty()) {
                        handle(ctx, held.poll());
                    }
                } catch (Exception e) {
                    ctx.fireExceptionCaught(e);
                }
            }

            @Override
            public void onLoop(Runnable task) {
                try {
                    ctx.executor().execute(task);
                } catch (java.util.concurrent.RejectedExecutionException stopped) {
                    // The intake is stopping; the connection goes with it.
                }
            }
        };
    }

    @Override
    public void channelInactive(ChannelHandlerContext ctx) throws Exception {
        releaseHeld();
        super.channelInactive(ctx);
    }

    private void releaseHeld() {
        for (Event e; (e = held.poll()) != null; ) {
            if (e instanceof CommandLine c) {
                c.line().release();
            } else if (e instanceof DataChunk d) {
                d.bytes().release();
            }
        }
    }

    /**
     * A client that resets its connection is a normal event, not a failure of ours: one short
     * line at debug (James logs "Unable to process request" at ERROR with a stack trace, 200 of
     * them in an idle-flood probe). Anything else is still James's to report.
     */
    @Override
    public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) throws Exception {
        if (cause instanceof java.io.IOException) {
            LOG.debug("client {} gone: {}", ctx.channel().remoteAddress(), cause.getMessage());
            ctx.close();
            return;
        }
        super.exceptionCaught(ctx, cause);
    }

    private static void resume(IntakeFramer framer) {
        if (framer != null) {
            framer.resume();
        }
    }

    private static void write(IntakeSession session, Response r) {
        if (r != null) {
            ((ProtocolSessionImpl) session).getProtocolTransport().writeResponse(r, session);
        }
    }

}
