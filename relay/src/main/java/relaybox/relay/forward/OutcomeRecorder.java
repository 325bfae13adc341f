package relaybox.relay.forward;

import relaybox.queue.EntryState;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.RecipientState;
import relaybox.relay.log.MailEvents;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;

/**
 * Owns reporting an attempt: it hands the per-recipient outcomes to the queue
 * ({@link Queue#recordOutcome}, which applies the retry schedule), writes the mail log line for
 * each recipient from the state the queue returns (so "next=" and expiry are the queue's), and
 * asks the {@link DsnWriter} for a DSN when recipients failed. It decides nothing about what a
 * reply means. Thread safe (stateless apart from its collaborators).
 */
final class OutcomeRecorder {

    private final Queue queue;
    private final MailEvents log;
    private final DsnWriter dsn;
    private final Clock clock;

    OutcomeRecorder(Queue queue, MailEvents log, DsnWriter dsn, Clock clock) {
        this.queue = queue;
        this.log = log;
        this.dsn = dsn;
        this.clock = clock;
    }

    /**
     * Records attempt {@code a} on leased entry {@code e}: one queue call, one log line per
     * recipient it tried, "removed" when the entry is done, and a DSN for recipients that failed
     * now (including those whose lifetime ran out). Returns the entry as the attempt left it
     * (for the metrics), or empty when it was deleted while being sent.
     */
    Optional<QueueEntry> record(QueueEntry e, Attempt a, String delays) {
        Instant now = clock.instant();
        Optional<QueueEntry> next = queue.recordOutcome(e.id(), a.forQueue(), now);
        if (next.isEmpty()) {
            return next;
        }
        QueueEntry n = next.get();
        if (n.state() == EntryState.QUARANTINED) {
            // Its message failed its checksum and was not sent; the queue logged the quarantine.
            return next;
        }
        List<RecipientState> failedNow = new ArrayList<>();
        for (RecipientState r : n.recipients()) {
            if (!a.outcomes().containsKey(r.address()) || !e.pendingRecipients().contains(r.address())) {
                continue;
            }
            Stage st = a.outcomes().get(r.address()).stage();
            switch (r.status()) {
                case DELIVERED -> log.delivered(e.id(), r.address(), a.upstream(), n.attempts(),
                        Duration.between(e.queuedAt(), now), delays, r.lastReply());
                case FAILED -> {
                    log.failed(e.id(), r.address(), a.upstream(), n.attempts(), st.name(), r.lastReply());
                    failedNow.add(r);
                }
                case PENDING -> log.deferred(e.id(), r.address(), a.upstream(), n.attempts(),
                        "+" + human(Duration.between(now, n.nextAttemptAt())), st.name(), r.lastReply());
            }
        }
        if (n.state() == EntryState.DELIVERED) {
            log.queueEvent(e.id(), "removed");
        }
        dsn.failed(n, failedNow);
        return next;
    }

    static String human(Duration d) {
        long s = Math.max(0, d.toSeconds());
        if (s < 120) {
            return s + "s";
        }
        if (s < 7200) {
            return (s / 60) + "m";
        }
        return (s / 3600) + "h";
    }
}
