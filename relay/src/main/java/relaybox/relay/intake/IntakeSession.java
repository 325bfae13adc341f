package relaybox.relay.intake;

import io.netty.buffer.ByteBuf;
import org.apache.james.protocols.api.ProtocolSession;
import org.apache.james.protocols.api.ProtocolTransport;
import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.smtp.SMTPConfiguration;
import org.apache.james.protocols.smtp.SMTPProtocol;
import org.apache.james.protocols.api.handler.ProtocolHandlerChain;
import org.apache.james.protocols.smtp.SMTPSessionImpl;

import java.nio.charset.Charset;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * A James SMTP session that also holds relaybox's {@link Transaction}. Two changes to James's
 * session: command lines are read as UTF-8 (SMTPUTF8 addresses; James reads US-ASCII), and
 * {@link #resetState()}, which James calls whenever a transaction ends (RSET, EHLO, STARTTLS,
 * disconnect), also discards the transaction's spool reservation.
 */
final class IntakeSession extends SMTPSessionImpl {

    private final Intake intake;
    /** Volatile: {@link SessionGuard} looks from other loops whether the session is in a transaction. */
    private volatile Transaction transaction;
    private IntakeFramer framer;
    /** Where this session's AUTH exchange is ({@link AuthExchange}); event loop only. */
    AuthExchange.Step authStep = AuthExchange.Step.NONE;
    /** The user name given to AUTH LOGIN, until its password arrives. */
    String authUser;
    /** Failed AUTH attempts on this connection. */
    int authFailures;

    IntakeSession(ProtocolTransport transport, SMTPConfiguration config, Intake intake) {
        super(transport, config);
        this.intake = intake;
    }

    Intake intake() {
        return intake;
    }

    IntakeFramer framer() {
        return framer;
    }

    void framer(IntakeFramer f) {
        this.framer = f;
    }

    Transaction transaction() {
        return transaction;
    }

    void startTransaction(Transaction t) {
        if (transaction != null) {
            transaction.abort();
        }
        transaction = t;
    }

    void dataChunk(ByteBuf bytes) {
        if (transaction != null && transaction.inData()) {
            transaction.write(bytes);
        }
    }

    /** The reply to the final dot, completed on {@code loop}; null when no message was being received. */
    CompletionStage<Response> dataEnd(boolean bareNewline, Executor loop) {
        Transaction t = transaction;
        if (t == null || !t.inData()) {
            return null;
        }
        // The caller writes the reply and then calls resetState(), which ends the transaction.
        return AcceptMessage.finish(this, t, bareNewline, loop);
    }

    @Override
    public void resetState() {
        if (transaction != null) {
            Transaction t = transaction;
            transaction = null;
            t.abort();
        }
        super.resetState();
    }

    @Override
    public Charset getCharset() {
        return StandardCharsets.UTF_8;
    }

    /** The James protocol that makes {@link IntakeSession}s. */
    static final class Protocol extends SMTPProtocol {
        private final Intake intake;

        Protocol(ProtocolHandlerChain chain, SMTPConfiguration config, Intake intake) {
            super(chain, config);
            this.intake = intake;
        }

        @Override
        public ProtocolSession newSession(ProtocolTransport transport) {
            return new IntakeSession(transport, (SMTPConfiguration) getConfiguration(), intake);
        }
    }
}
