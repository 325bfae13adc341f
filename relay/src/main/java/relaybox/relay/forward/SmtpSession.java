package relaybox.relay.forward;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.smtp.DefaultLastSmtpContent;
import io.netty.handler.codec.smtp.DefaultSmtpContent;
import io.netty.handler.codec.smtp.SmtpRequests;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Owns the mail transactions on one opened SMTP session to an upstream (the opening, from the
 * greeting to AUTH, is {@link SessionOpening}'s): per message MAIL, RCPT..., DATA, the body and
 * the final ".", with RSET after a failed transaction, NOOP while idle and QUIT at the end. The
 * states are explicit ({@link State}), as in OpenSMTPD's mta. Replies are parsed by
 * netty-codec-smtp; the worker thread that owns the session drives it through a
 * {@link Conversation} and waits for each reply with a deadline, so every wait has a timeout.
 *
 * <p>PIPELINING (RFC 2920): when offered, MAIL, every RCPT and DATA go out in one write and the
 * replies are read in order. When the worker already holds the next message, its MAIL, RCPT and
 * DATA follow this message's final "." in the same write ({@link #sentAhead()}): one round trip
 * per message instead of two. If the "." is answered by a 421 or the connection breaks, the
 * message sent ahead has had no data sent and goes on a new session without spending an attempt.
 * If DATA gets 354 although no RCPT was accepted, a lone "." ends the empty transaction, which
 * counts as failed. LIMITS (RFC 9422): RCPTMAX splits a message's
 * recipients over several transactions; MAILMAX caps transactions per connection.
 *
 * <p>The body is streamed from the queue in 64 KiB chunks, dot-stuffed on the way, never held
 * whole; the upstream's extra {@code headers} go out first. Credentials are never logged.
 *
 * <p>Failure behaviour: each reply and each exception is classified by {@link FailurePolicy}.
 * A timeout, an I/O error or a 421 breaks or retires the session; the message's recipients that
 * have no outcome yet are deferred. Not thread safe.
 */
final class SmtpSession implements UpstreamSession {

    private static final Logger LOG = LoggerFactory.getLogger(SmtpSession.class);

    /** Where the client is in the conversation. */
    enum State { READY, MAIL, RCPT, DATA, BODY, DATA_END, RSET, NOOP, QUIT, CLOSED }

    private final SmtpConnector conn;
    private final FailurePolicy policy;
    private final Conversation talk;
    private final EmbeddedChannel ch;
    private final String shown;
    private final Map<String, String> extensions;
    private State state = State.READY;
    private boolean needsReset;
    private boolean retire;
    private boolean broken;
    private int transactions;
    private final int maxTransactions;
    private final int rcptMax;
    private final MessageWriter writer;
    /** The entry whose MAIL, RCPT and DATA went out behind the last message's final ".", or null. */
    private QueueEntry ahead;
    /** The strongest slow-down or pause the last send met, for the worker; null when none. */
    private FailurePolicy.Decision signal;

    /** A session on {@code talk}, opened by {@link SessionOpening}, whose upstream offers {@code ehlo}. */
    SmtpSession(SmtpConnector conn, Conversation talk, Ehlo ehlo) {
        this.conn = conn;
        this.policy = conn.policy;
        this.talk = talk;
        this.ch = talk.ch;
        this.shown = talk.shown;
        this.extensions = ehlo.extensions();
        this.maxTransactions = ehlo.maxTransactions();
        this.rcptMax = ehlo.rcptMax();
        this.writer = new MessageWriter(ch, extensions, conn.upstream);
        LOG.debug("session open to {} extensions={}", shown, extensions.keySet());
    }

    @Override
    public String upstream() {
        return shown;
    }

    @Override
    public FailurePolicy.Decision upstreamSignal() {
        return signal;
    }

    @Override
    public Attempt send(QueueEntry entry, MessageSource source) {
        return send(entry, source, null);
    }

    @Override
    public QueueId sentAhead() {
        return ahead == null ? null : ahead.id();
    }

    @Override
    public Attempt send(QueueEntry entry, MessageSource source, QueueEntry next) {
        Map<String, Outcome> out = new LinkedHashMap<>();
        List<String> rcpts = entry.pendingRecipients();
        signal = null;
        if (entry.envelope().smtputf8() && !extensions.containsKey("SMTPUTF8")) {
            FailurePolicy.Decision d = policy.unsendable("SMTPUTF8 is required, but was not offered by " + shown);
            rcpts.forEach(r -> record(out, r, Stage.MESSAGE, d.outcome()));
            return new Attempt(out, shown);
        }
        int batch = rcptMax > 0 ? rcptMax : rcpts.size();
        for (int i = 0; i < rcpts.size(); i += batch) {
            List<String> some = rcpts.subList(i, Math.min(rcpts.size(), i + batch));
            if (broken || (i > 0 && transactions >= maxTransactions)) {
                // XXX: the rest waits for the next attempt; a new session would be better.
                some.forEach(r -> record(out, r, Stage.MAIL,
                        FailurePolicy.localFailure(Stage.MAIL,
                                "MAIL: session ended before this recipient's transaction")));
                continue;
            }
            boolean last = i + batch >= rcpts.size();
            transaction(entry, some, source, out, last ? next : null);
        }
        return new Attempt(out, shown);
    }

    /**
     * True when {@code next}'s commands may follow the current message's final ".": the upstream
     * pipelines, this session will carry another transaction, and {@code next} needs exactly one
     * transaction it can take.
     */
    private boolean canSendAhead(QueueEntry next) {
        if (next == null || broken || retire || !extensions.containsKey("PIPELINING")
                || transactions >= maxTransactions) {
            return false;
        }
        int n = next.pendingRecipients().size();
        return n > 0 && (rcptMax == 0 || n <= rcptMax)
                && !(next.envelope().smtputf8() && !extensions.containsKey("SMTPUTF8"));
    }

    /** One MAIL transaction for {@code rcpts}; fills in an outcome for each of them. */
    private void transaction(QueueEntry entry, List<String> rcpts, MessageSource source,
                             Map<String, Outcome> out, QueueEntry next) {
        Stage stage = Stage.MAIL;
        List<String> accepted = new ArrayList<>();
        FailurePolicy.Decision mail = null;
        // A 421 after MAIL was accepted (at RCPT or DATA): the upstream is closing.
        FailurePolicy.Decision goodbye = null;
        transactions++;
        boolean sentAlready = ahead != null;
        if (sentAlready && !(ahead.id().equals(entry.id()) && ahead.pendingRecipients().equals(rcpts))) {
            // The owner broke the contract: the upstream waits for another message's data.
            throw new IllegalStateException("sent ahead for " + ahead.id() + ", asked to send " + entry.id());
        }
        ahead = null;
        try {
            boolean pipelining = extensions.containsKey("PIPELINING");
            if (sentAlready) {
                // Its commands followed the last message's ".", which ended that transaction
                // whatever its reply: no RSET is due.
                needsReset = false;
            } else {
                if (needsReset) {
                    state = State.RSET;
                    ch.writeAndFlush(SmtpRequests.rset());
                    UpstreamReply r = read(Stage.MAIL, conn.forward.commandTimeout());
                    if (r.code() != 250) {
                        throw new SessionException("RSET refused: " + r);
                    }
                    needsReset = false;
                }
                if (pipelining) {
                    writer.commands(entry, rcpts);
                } else {
                    ch.write(writer.mail(entry));
                }
                ch.flush();
            }
            state = State.MAIL;
            mail = decide(Stage.MAIL, read(Stage.MAIL, conn.forward.commandTimeout()));
            if (mail.retire()) {
                // A 421: the upstream is closing. Waiting for the replies still due (RCPT, DATA)
                // would last until its TCP close or our timeout; the session ends now.
                throw new SessionException("upstream closing");
            }
            stage = Stage.RCPT;
            state = State.RCPT;
            for (String r : rcpts) {
                if (!pipelining && !mail.ok()) {
                    break;
                }
                if (!pipelining) {
                    ch.writeAndFlush(MessageWriter.rcpt(r));
                }
                FailurePolicy.Decision d = decide(Stage.RCPT, read(Stage.RCPT, conn.forward.commandTimeout()));
                if (d.retire()) {
                    goodbye = d;
                    throw new SessionException("upstream closing");
                }
                if (!mail.ok()) {
                    continue;
                }
                if (d.ok()) {
                    accepted.add(r);
                } else {
                    record(out, r, Stage.RCPT, d.outcome());
                }
            }
            if (!mail.ok()) {
                Outcome refused = mail.outcome();
                rcpts.forEach(r -> record(out, r, Stage.MAIL, refused));
            }
            stage = Stage.DATA;
            state = State.DATA;
            UpstreamReply dataReply = null;
            if (pipelining) {
                dataReply = read(Stage.DATA, conn.forward.commandTimeout());
            } else if (mail.ok() && !accepted.isEmpty()) {
                ch.writeAndFlush(SmtpRequests.data());
                dataReply = read(Stage.DATA, conn.forward.commandTimeout());
            }
            if (dataReply == null || !mail.ok() || accepted.isEmpty()) {
                if (dataReply != null && dataReply.code() == 354) {
                    // RFC 2920 3.1: nobody to deliver to, yet the server waits for data. End the
                    // empty transaction with a lone "." and treat whatever it says as failure.
                    stage = Stage.DATA_END;
                    state = State.DATA_END;
                    ch.writeAndFlush(new DefaultLastSmtpContent(Unpooled.EMPTY_BUFFER));
                    read(Stage.DATA_END, conn.forward.dataTimeout());
                }
                needsReset = true;
                return;
            }
            FailurePolicy.Decision data = decide(Stage.DATA, dataReply);
            if (data.retire()) {
                goodbye = data;
                throw new SessionException("upstream closing");
            }
            if (!data.ok()) {
                accepted.forEach(r -> record(out, r, Stage.DATA, data.outcome()));
                needsReset = true;
                return;
            }
            stage = Stage.DATA_END;
            state = State.BODY;
            if (!body(source, canSendAhead(next) ? next : null)) {
                accepted.forEach(r -> record(out, r, Stage.MESSAGE,
                        FailurePolicy.localFailure(Stage.MESSAGE,
                                "message: the queued message could not be read")));
                return;
            }
            state = State.DATA_END;
            UpstreamReply end = read(Stage.DATA_END, conn.forward.dataTimeout());
            FailurePolicy.Decision d = decide(Stage.DATA_END, end);
            for (String r : accepted) {
                record(out, r, Stage.DATA_END, d.outcome());
            }
            needsReset = !d.ok();
            state = State.READY;
        } catch (SessionException e) {
            broken = true;
            // A refused MAIL (a 421, typically) explains the closed connection better than the
            // I/O error that followed it.
            boolean mailRefused = mail != null && !mail.ok();
            Stage st = mailRefused ? Stage.MAIL : stage;
            // A 421 (a goodbye) says why better than the closing that follows it.
            Outcome o = mailRefused ? mail.outcome() : goodbye != null ? goodbye.outcome()
                    : policy.exception(stage, e).outcome();
            for (String r : rcpts) {
                if (!out.containsKey(r)) {
                    record(out, r, st, o);
                }
            }
            abort();
        } catch (RuntimeException e) {
            // A bug or a Netty surprise: the session state is unknown, so give it up and defer.
            LOG.warn("session to {} failed unexpectedly for {}", shown, entry.id(), e);
            broken = true;
            FailurePolicy.Decision d = policy.exception(stage, e);
            rcpts.stream().filter(r -> !out.containsKey(r)).forEach(r -> record(out, r, Stage.MAIL, d.outcome()));
            abort();
        }
    }

    /**
     * Streams the message ({@link MessageWriter#body}) and, in the same write, {@code next}'s
     * commands when it is given. Returns false (and breaks the session, since the transaction
     * cannot be cancelled cleanly) when the queued message cannot be read.
     */
    private boolean body(MessageSource source, QueueEntry next) {
        try {
            writer.body(source);
        } catch (IOException e) {
            LOG.warn("cannot read the queued message for {}: {}", shown, e.toString());
            broken = true;
            abort();
            return false;
        }
        if (next != null) {
            writer.commands(next, next.pendingRecipients());
            ahead = next;
        }
        ch.flush();
        return true;
    }

    private FailurePolicy.Decision decide(Stage stage, UpstreamReply r) {
        FailurePolicy.Decision d = policy.reply(stage, r);
        if (d.retire()) {
            retire = true;
        }
        if (d.effect() != FailurePolicy.Effect.NONE
                && (signal == null || d.effect().compareTo(signal.effect()) > 0)) {
            signal = d;
        }
        return d;
    }

    private static void record(Map<String, Outcome> out, String rcpt, Stage stage, Outcome o) {
        out.put(rcpt, o.at(stage));
    }

    private UpstreamReply read(Stage stage, Duration timeout) throws SessionException {
        return talk.read(timeout);
    }

    @Override
    public boolean reusable() {
        if (broken || retire) {
            return false;
        }
        if (ahead != null) {
            // Replies to the commands sent ahead are due; they are read by that message's send.
            return ch.isActive();
        }
        if (transactions >= maxTransactions) {
            return false;
        }
        if (talk.spokeUnasked()) {
            // Between transactions the upstream has nothing to say: whatever it sent (a 421, its
            // close) means this connection is over.
            LOG.debug("session to {} ended while idle: {}", shown, talk.unasked());
            broken = true;
            abort();
            return false;
        }
        return true;
    }

    @Override
    public boolean keepAlive() {
        if (ahead != null) {
            // A NOOP now would be read as message data: end the session instead.
            broken = true;
            abort();
            return false;
        }
        if (!reusable()) {
            return false;
        }
        state = State.NOOP;
        try {
            ch.writeAndFlush(SmtpRequests.noop());
            UpstreamReply r = read(Stage.MAIL, conn.forward.commandTimeout());
            if (r.code() == 250) {
                state = State.READY;
                return true;
            }
        } catch (SessionException e) {
            LOG.debug("NOOP to {} failed: {}", shown, e.getMessage());
        }
        broken = true;
        abort();
        return false;
    }

    @Override
    public void close() {
        if (state == State.CLOSED) {
            return;
        }
        if (!broken && ahead == null && ch.isActive()) {
            // (With commands sent ahead the upstream may be waiting for data: a QUIT would be
            // taken as message text. Closing the connection makes it drop that transaction.)
            state = State.QUIT;
            try {
                if (needsReset) {
                    // After a DATA refusal the encoder expects content; RSET clears that first.
                    ch.writeAndFlush(SmtpRequests.rset());
                    read(Stage.MAIL, conn.forward.commandTimeout());
                }
                ch.writeAndFlush(SmtpRequests.quit());
                read(Stage.MAIL, Duration.ofSeconds(Math.min(5, conn.forward.commandTimeout().toSeconds())));
            } catch (SessionException e) {
                LOG.debug("QUIT to {}: {}", shown, e.getMessage());
            }
        }
        abort();
    }

    private void abort() {
        state = State.CLOSED;
        talk.close();
    }
}
