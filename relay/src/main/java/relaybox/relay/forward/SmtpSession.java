package relaybox.relay.forward;

import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.smtp.SmtpRequests;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Owns one opened SMTP session to an upstream between its opening (greeting to AUTH,
 * {@link SessionOpening}'s) and its QUIT: which transactions a message needs and whether each may
 * go on this connection, which next message may be sent ahead, NOOP while idle, and when the
 * session is over. Each MAIL transaction itself (MAIL, RCPT..., DATA, the body, the ".") is
 * {@link MailTransaction}'s, and what the replies said about the upstream as a whole is
 * {@link ReplyJudge}'s. The session's own states are explicit ({@link State}), as in OpenSMTPD's
 * mta; the worker thread that owns the session drives it through a {@link Conversation} and
 * waits for each reply with a deadline, so every wait has a timeout.
 *
 * <p>PIPELINING (RFC 2920): when offered, MAIL, every RCPT and DATA go out in one write and the
 * replies are read in order. When the worker already holds the next message, its MAIL, RCPT and
 * DATA follow this message's final "." in the same write ({@link #sentAhead()}): one round trip
 * per message instead of two. If the "." is answered by a 421 or the connection breaks, the
 * message sent ahead has had no data sent and goes on a new session without spending an attempt.
 * LIMITS (RFC 9422): RCPTMAX splits a message's recipients over several transactions; MAILMAX
 * caps transactions per connection.
 *
 * <p>Failure behaviour: each reply and each exception is classified by {@link FailurePolicy}.
 * A timeout, an I/O error or a 421 breaks or retires the session; the message's recipients that
 * have no outcome yet are deferred. Credentials are never logged. Not thread safe.
 */
final class SmtpSession implements UpstreamSession {

    private static final Logger LOG = LoggerFactory.getLogger(SmtpSession.class);

    /** Where the session is between transactions (inside one, {@link MailTransaction} tracks the stage). */
    enum State { READY, TRANSACTION, NOOP, QUIT, CLOSED }

    private final SmtpConnector conn;
    private final FailurePolicy policy;
    private final Conversation talk;
    private final EmbeddedChannel ch;
    private final String shown;
    private final Map<String, String> extensions;
    private final ReplyJudge judge;
    private final MailTransaction transaction;
    private State state = State.READY;
    private boolean needsReset;
    private boolean broken;
    private int transactions;
    private final int maxTransactions;
    private final int rcptMax;
    /** The entry whose MAIL, RCPT and DATA went out behind the last message's final ".", or null. */
    private QueueEntry ahead;

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
        this.judge = new ReplyJudge(policy);
        this.transaction = new MailTransaction(talk, new MessageWriter(ch, extensions, conn.upstream), judge,
                policy, conn.forward, extensions.containsKey("PIPELINING"));
        LOG.debug("session open to {} extensions={}", shown, extensions.keySet());
    }

    @Override
    public String upstream() {
        return shown;
    }

    @Override
    public FailurePolicy.Decision upstreamSignal() {
        return judge.signal();
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
        judge.newSend();
        if (entry.envelope().smtputf8() && !extensions.containsKey("SMTPUTF8")) {
            FailurePolicy.Decision d = policy.unsendable("SMTPUTF8 is required, but was not offered by " + shown);
            rcpts.forEach(r -> MailTransaction.record(out, r, Stage.MESSAGE, d.outcome()));
            return new Attempt(out, shown);
        }
        int batch = rcptMax > 0 ? rcptMax : rcpts.size();
        for (int i = 0; i < rcpts.size(); i += batch) {
            List<String> some = rcpts.subList(i, Math.min(rcpts.size(), i + batch));
            if (broken || (i > 0 && transactions >= maxTransactions)) {
                // XXX: the rest waits for the next attempt; a new session would be better.
                some.forEach(r -> MailTransaction.record(out, r, Stage.MAIL,
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
        if (next == null || broken || judge.retiring() || !extensions.containsKey("PIPELINING")
                || transactions >= maxTransactions) {
            return false;
        }
        int n = next.pendingRecipients().size();
        return n > 0 && (rcptMax == 0 || n <= rcptMax)
                && !(next.envelope().smtputf8() && !extensions.containsKey("SMTPUTF8"));
    }

    /** One MAIL transaction for {@code rcpts} ({@link MailTransaction#run}), then the session's state after it. */
    private void transaction(QueueEntry entry, List<String> rcpts, MessageSource source,
                             Map<String, Outcome> out, QueueEntry next) {
        transactions++;
        boolean sentAlready = ahead != null;
        if (sentAlready && !(ahead.id().equals(entry.id()) && ahead.pendingRecipients().equals(rcpts))) {
            // The owner broke the contract: the upstream waits for another message's data.
            throw new IllegalStateException("sent ahead for " + ahead.id() + ", asked to send " + entry.id());
        }
        // Decided before the transaction, since nothing in it can change the answer without
        // ending the session: a 421 on the way breaks it before the body is written.
        QueueEntry behind = canSendAhead(next) ? next : null;
        // Commands sent ahead followed the last message's ".", which ended that transaction
        // whatever its reply: no RSET is due.
        boolean reset = needsReset && !sentAlready;
        ahead = null;
        state = State.TRANSACTION;
        MailTransaction.End end = transaction.run(entry, rcpts, source, out, reset, sentAlready, behind);
        ahead = transaction.sentAhead();
        needsReset = end != MailTransaction.End.READY;
        if (end == MailTransaction.End.BROKEN) {
            broken = true;
            abort();
        } else {
            state = State.READY;
        }
    }

    @Override
    public boolean reusable() {
        if (broken || judge.retiring()) {
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
            UpstreamReply r = talk.read(conn.forward.commandTimeout());
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
                    talk.read(conn.forward.commandTimeout());
                }
                ch.writeAndFlush(SmtpRequests.quit());
                talk.read(Duration.ofSeconds(Math.min(5, conn.forward.commandTimeout().toSeconds())));
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
