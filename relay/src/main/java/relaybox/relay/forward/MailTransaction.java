package relaybox.relay.forward;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.smtp.DefaultLastSmtpContent;
import io.netty.handler.codec.smtp.SmtpRequests;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.ForwardConfig;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Owns one MAIL transaction on an open session, from the RSET a failed one left due to the reply
 * to the final ".": MAIL, each RCPT and DATA (in one write when the upstream pipelines), the body,
 * and an outcome for every recipient it was given. Whether the session stays usable, and which
 * message may be sent ahead behind the ".", are {@link SmtpSession}'s to decide; this class says
 * how the transaction ended ({@link End}) and what it sent ahead. Split from the session so the
 * reply-by-reply reading of a transaction can be read on one page. Not thread safe: one per
 * session, used by the thread that owns it.
 */
final class MailTransaction {

    private static final Logger LOG = LoggerFactory.getLogger(MailTransaction.class);

    /** How a transaction left the session. */
    enum End {
        /** Ended with the upstream's reply to "."; the next transaction starts with MAIL. */
        READY,
        /** Ended early or refused: the next transaction starts with RSET. */
        RESET,
        /** The connection is unusable (a 421, a timeout, an I/O error, an unreadable message). */
        BROKEN
    }

    private final Conversation talk;
    private final EmbeddedChannel ch;
    private final MessageWriter writer;
    private final ReplyJudge judge;
    private final FailurePolicy policy;
    private final ForwardConfig forward;
    private final boolean pipelining;
    /** The entry whose MAIL, RCPT and DATA went out behind this transaction's ".", or null. */
    private QueueEntry sentAhead;

    MailTransaction(Conversation talk, MessageWriter writer, ReplyJudge judge, FailurePolicy policy,
                    ForwardConfig forward, boolean pipelining) {
        this.talk = talk;
        this.ch = talk.ch;
        this.writer = writer;
        this.judge = judge;
        this.policy = policy;
        this.forward = forward;
        this.pipelining = pipelining;
    }

    /**
     * One MAIL transaction for {@code rcpts}; fills in an outcome in {@code out} for each of them.
     * {@code reset}: a RSET is due first. {@code sentAlready}: MAIL, RCPT and DATA went out
     * behind the last message's "." and only their replies are read. {@code next}: an entry whose
     * commands may follow this message's "." (null: none), see {@link #sentAhead()}.
     */
    End run(QueueEntry entry, List<String> rcpts, UpstreamSession.MessageSource source,
            Map<String, Outcome> out, boolean reset, boolean sentAlready, QueueEntry next) {
        Stage stage = Stage.MAIL;
        List<String> accepted = new ArrayList<>();
        FailurePolicy.Decision mail = null;
        // A 421 after MAIL was accepted (at RCPT or DATA): the upstream is closing.
        FailurePolicy.Decision goodbye = null;
        sentAhead = null;
        try {
            if (!sentAlready) {
                if (reset) {
                    ch.writeAndFlush(SmtpRequests.rset());
                    UpstreamReply r = talk.read(forward.commandTimeout());
                    if (r.code() != 250) {
                        throw new SessionException("RSET refused: " + r);
                    }
                }
                if (pipelining) {
                    writer.commands(entry, rcpts);
                } else {
                    ch.write(writer.mail(entry));
                }
                ch.flush();
            }
            mail = judge.decide(Stage.MAIL, talk.read(forward.commandTimeout()));
            if (mail.retire()) {
                // A 421: the upstream is closing. Waiting for the replies still due (RCPT, DATA)
                // would last until its TCP close or our timeout; the session ends now.
                throw new SessionException("upstream closing");
            }
            stage = Stage.RCPT;
            for (String r : rcpts) {
                if (!pipelining && !mail.ok()) {
                    break;
                }
                if (!pipelining) {
                    ch.writeAndFlush(MessageWriter.rcpt(r));
                }
                FailurePolicy.Decision d = judge.decide(Stage.RCPT, talk.read(forward.commandTimeout()));
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
            UpstreamReply dataReply = null;
            if (pipelining) {
                dataReply = talk.read(forward.commandTimeout());
            } else if (mail.ok() && !accepted.isEmpty()) {
                ch.writeAndFlush(SmtpRequests.data());
                dataReply = talk.read(forward.commandTimeout());
            }
            if (dataReply == null || !mail.ok() || accepted.isEmpty()) {
                if (dataReply != null && dataReply.code() == 354) {
                    // RFC 2920 3.1: nobody to deliver to, yet the server waits for data. End the
                    // empty transaction with a lone "." and treat whatever it says as failure.
                    stage = Stage.DATA_END;
                    ch.writeAndFlush(new DefaultLastSmtpContent(Unpooled.EMPTY_BUFFER));
                    talk.read(forward.dataTimeout());
                }
                return End.RESET;
            }
            FailurePolicy.Decision data = judge.decide(Stage.DATA, dataReply);
            if (data.retire()) {
                goodbye = data;
                throw new SessionException("upstream closing");
            }
            if (!data.ok()) {
                accepted.forEach(r -> record(out, r, Stage.DATA, data.outcome()));
                return End.RESET;
            }
            stage = Stage.DATA_END;
            if (!body(source, next)) {
                accepted.forEach(r -> record(out, r, Stage.MESSAGE,
                        FailurePolicy.localFailure(Stage.MESSAGE,
                                "message: the queued message could not be read")));
                return End.BROKEN;
            }
            FailurePolicy.Decision d = judge.decide(Stage.DATA_END, talk.read(forward.dataTimeout()));
            for (String r : accepted) {
                record(out, r, Stage.DATA_END, d.outcome());
            }
            return d.ok() ? End.READY : End.RESET;
        } catch (SessionException e) {
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
            return End.BROKEN;
        } catch (RuntimeException e) {
            // A bug or a Netty surprise: the session state is unknown, so give it up and defer.
            LOG.warn("session to {} failed unexpectedly for {}", talk.shown, entry.id(), e);
            FailurePolicy.Decision d = policy.exception(stage, e);
            rcpts.stream().filter(r -> !out.containsKey(r)).forEach(r -> record(out, r, Stage.MAIL, d.outcome()));
            return End.BROKEN;
        }
    }

    /**
     * The entry whose commands the last {@link #run} wrote behind its "." (their replies are due
     * first on this connection), or null. Set even when the transaction then broke: that entry
     * has had no data sent, so it goes on a new session without spending an attempt.
     */
    QueueEntry sentAhead() {
        return sentAhead;
    }

    /**
     * Streams the message ({@link MessageWriter#body}) and, in the same write, {@code next}'s
     * commands when it is given. Returns false when the queued message cannot be read: the
     * transaction cannot be cancelled cleanly, so the session must break.
     */
    private boolean body(UpstreamSession.MessageSource source, QueueEntry next) {
        try {
            writer.body(source);
        } catch (IOException e) {
            LOG.warn("cannot read the queued message for {}: {}", talk.shown, e.toString());
            return false;
        }
        if (next != null) {
            writer.commands(next, next.pendingRecipients());
            sentAhead = next;
        }
        ch.flush();
        return true;
    }

    static void record(Map<String, Outcome> out, String rcpt, Stage stage, Outcome o) {
        out.put(rcpt, o.at(stage));
    }
}
