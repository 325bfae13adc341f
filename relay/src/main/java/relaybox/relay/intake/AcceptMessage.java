package relaybox.relay.intake;

import org.apache.james.protocols.api.Response;
import org.apache.james.protocols.smtp.SMTPResponse;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.relay.dkim.MessageSigner;
import relaybox.relay.log.Refusal;

import java.io.IOException;
import java.time.ZonedDateTime;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.CompletionStage;
import java.util.concurrent.Executor;

/**
 * Owns the end of a message, the moment the client waits for our answer to its final dot:
 * refuse what must be refused, add our header lines, sign, hand the message to the queue, and
 * only once the queue says the message is durable, say {@code 250 2.0.0 Ok: queued as <id>}.
 *
 * <h2>Replies</h2>
 * <ul>
 * <li>bare CR or LF in the message: {@code 550 5.6.0}, and the connection is closed, so nothing
 *     the client sent after a would-be terminator can be read as a new transaction (smuggling);</li>
 * <li>more than the SIZE limit: {@code 552 5.3.4} (the bytes were counted, not stored);</li>
 * <li>signing refused for good: {@code 550 5.7.1}; for now: {@code 451 4.3.0};</li>
 * <li>header-memory budget used up while the message arrived: {@code 452 4.3.1};</li>
 * <li>queue full, also when the disk fills while the message arrives: {@code 452 4.3.1}; any
 *     other storage failure: {@code 451 4.3.0}. The session
 *     and the daemon go on; nothing already queued is touched.</li>
 * </ul>
 * Every refusal discards the spool reservation and writes one mail-log line.
 *
 * <p>Runs on the session's event loop and never waits there: the queue's group fsync completes the
 * returned stage, and the reply is written from the loop again, so other sessions on the loop go
 * on meanwhile.
 */
final class AcceptMessage {

    private static final Logger LOG = LoggerFactory.getLogger(AcceptMessage.class);

    static final String BARE_NEWLINE = "5.6.0 Message refused: lines must end with CRLF (bare CR or LF found)";
    static final String TOO_BIG = "5.3.4 Message size exceeds fixed limit";
    static final String STORAGE_FULL = "4.3.1 Insufficient system storage, try again later";
    static final String STORAGE_ERROR = "4.3.0 Local error in processing, try again later";
    static final String HEADER_MEMORY = "4.3.1 Insufficient system resources, try again later";

    private AcceptMessage() {
    }

    /** The 552 text for a message larger than its upstreams take: with their limit, in bytes. */
    static String tooBigFor(UpstreamFacts.Limit limit) {
        return "5.3.4 Message size exceeds the upstream's limit: " + limit.upstream() + " takes at most "
                + limit.bytes() + " bytes";
    }

    static CompletionStage<Response> finish(IntakeSession session, Transaction t, boolean bareNewline, Executor loop) {
        // The end of DATA has just arrived: intake latency runs from here to the 250.
        long dataEnd = System.nanoTime();
        Intake intake = session.intake();
        String client = session.getRemoteAddress().getAddress().getHostAddress();
        t.endData();
        if (bareNewline) {
            SMTPResponse r = new SMTPResponse("550", BARE_NEWLINE);
            r.setEndSession(true);
            return done(refuse(session, t, Refusal.BAD_INPUT, r));
        }
        if (t.tooBig()) {
            return done(refuse(session, t, Refusal.SIZE, new SMTPResponse("552",
                    t.size() > intake.config.maxMessageSize() ? TOO_BIG : tooBigFor(t.upstreamLimit()))));
        }
        if (t.outOfHeaderMemory()) {
            LOG.warn("refusing {} from {}: intake_header_memory ({} bytes) is used up by other sessions' header "
                    + "sections", t.incoming.id(), client, intake.headerMemory.capacity());
            return done(refuse(session, t, Refusal.STORAGE_FULL, new SMTPResponse("452", HEADER_MEMORY)));
        }
        if (t.writeFailure() != null) {
            LOG.warn("spool write failed for {}: {}", t.incoming.id(), t.writeFailure().toString());
            // Asked before the partial message is discarded, which frees its space again.
            return done(storageFull(intake, t.writeFailure())
                    ? refuse(session, t, Refusal.STORAGE_FULL, new SMTPResponse("452", STORAGE_FULL))
                    : refuse(session, t, Refusal.STORAGE_ERROR, new SMTPResponse("451", STORAGE_ERROR)));
        }
        HeaderScanner h = t.headers();
        boolean tls = session.isTLSStarted();
        boolean auth = session.getUsername() != null;
        boolean ehlo = "EHLO".equals(session.getAttachment(IntakeSession.CURRENT_HELO_MODE,
                org.apache.james.protocols.api.ProtocolSession.State.Connection).orElse(""));
        String helo = helo(session);
        String added = AddedHeaders.build(t.incoming.id(), intake.config.hostname(), helo, client,
                AddedHeaders.protocol(ehlo, tls, auth, t.smtputf8), t.recipients, h.hasDate(), h.hasMessageId(),
                ZonedDateTime.now(intake.clock));
        String signature;
        try {
            signature = t.signing().finish(added);
        } catch (MessageSigner.SigningException e) {
            LOG.warn("cannot sign {} (from domain {}): {}", t.incoming.id(), h.fromDomain(), e.getMessage());
            if (intake.metrics != null) {
                intake.metrics.dkimFailed(e.reason().label());
            }
            return done(refuse(session, t, Refusal.SIGNING, e.permanent()
                    ? new SMTPResponse("550", "5.7.1 Message refused: it cannot be signed")
                    : new SMTPResponse("451", "4.3.0 Message cannot be signed now, try again later")));
        } catch (RuntimeException e) {
            // A signer bug must not send mail unsigned or lose it: the client keeps it and retries.
            LOG.error("signer failed on {}", t.incoming.id(), e);
            return done(refuse(session, t, Refusal.SIGNING,
                    new SMTPResponse("451", "4.3.0 Message cannot be signed now, try again later")));
        }
        long outgoing = t.stored() + (signature + added).getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
        if (outgoing > t.upstreamLimit().bytes()) {
            // Within the limit as the client sent it, over it with our header lines: as it goes out.
            return done(refuse(session, t, Refusal.SIZE, new SMTPResponse("552", tooBigFor(t.upstreamLimit()))));
        }
        String authUser = auth ? session.getUsername().asString() : "";
        Envelope envelope = new Envelope(t.sender, t.recipients, t.smtputf8, t.eightBit, client, helo, authUser);
        CompletionStage<QueueEntry> stored;
        try {
            stored = intake.queue.acceptAsync(t.incoming, envelope, signature + added);
        } catch (RuntimeException e) {
            stored = CompletableFuture.failedFuture(e);
        }
        // The queue completes on its fsync thread; the reply, the log line and the metrics are the
        // session's business and run on its loop.
        return stored.handleAsync((entry, failure) -> {
            if (failure != null) {
                Throwable cause = failure instanceof CompletionException && failure.getCause() != null
                        ? failure.getCause() : failure;
                if (cause instanceof QueueException e) {
                    LOG.warn("queue refused {}: {} {}", t.incoming.id(), e.kind(), e.getMessage());
                    return e.kind() == QueueException.Kind.STORAGE_FULL
                            ? refuse(session, t, Refusal.STORAGE_FULL, new SMTPResponse("452", STORAGE_FULL))
                            : refuse(session, t, Refusal.STORAGE_ERROR, new SMTPResponse("451", STORAGE_ERROR));
                }
                LOG.error("queue failed on {}", t.incoming.id(), cause);
                return refuse(session, t, Refusal.STORAGE_ERROR, new SMTPResponse("451", STORAGE_ERROR));
            }
            intake.mailLog.queued(entry.id(), t.sender, t.recipients.size(), entry.messageSize(), client, helo,
                    session.getSSLSession().map(s -> s.getProtocol()).orElse(""), t.signing().signedBy());
            if (intake.metrics != null) {
                intake.metrics.intakeLatency(java.time.Duration.ofNanos(System.nanoTime() - dataEnd));
            }
            return new SMTPResponse("250", "2.0.0 Ok: queued as " + entry.id());
        }, onLoop(loop));
    }

    /**
     * The session's loop, or the completing thread once the loop has stopped (a client gone
     * and the intake shut down while its message was being synced): the message is stored by
     * then, and its mail-log line must still be written.
     */
    private static Executor onLoop(Executor loop) {
        return task -> {
            try {
                loop.execute(task);
            } catch (java.util.concurrent.RejectedExecutionException stopped) {
                task.run();
            }
        };
    }

    /**
     * Whether a spool write failed because the queue's filesystem is full. The JDK reports ENOSPC
     * only as its C library text, so that is the first sign; the second is the queue's own
     * free-space guard, asked for room for one more message. The guard alone was not enough: the
     * index's write-ahead log (created and deleted with every commit) can give back a megabyte
     * between the failed write and the question.
     */
    private static boolean storageFull(Intake intake, IOException failure) {
        if (failure.getMessage() != null && failure.getMessage().contains("No space left on device")) {
            return true;
        }
        try {
            intake.queue.receive().discard();
            return false;
        } catch (QueueException e) {
            return e.kind() == QueueException.Kind.STORAGE_FULL;
        } catch (RuntimeException e) {
            return false;
        }
    }

    private static CompletionStage<Response> done(Response r) {
        return CompletableFuture.completedFuture(r);
    }

    private static Response refuse(IntakeSession session, Transaction t, Refusal why, SMTPResponse r) {
        t.discardSpool();
        String client = session.getRemoteAddress().getAddress().getHostAddress();
        session.intake().mailLog.rejected(t.sender, t.recipients.isEmpty() ? "" : t.recipients.get(0), client, why,
                r.getLines().get(0).toString());
        return r;
    }

    static String helo(IntakeSession session) {
        return session.getAttachment(IntakeSession.CURRENT_HELO_NAME,
                org.apache.james.protocols.api.ProtocolSession.State.Connection).orElse("");
    }
}
