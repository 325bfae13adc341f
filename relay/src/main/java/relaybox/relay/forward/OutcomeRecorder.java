package relaybox.relay.forward;

import relaybox.queue.EntryState;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.RecipientState;
import relaybox.relay.log.MailEvents;
import relaybox.relay.metrics.RelayMetrics;

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
 * asks the {@link DsnWriter} for a DSN when recipients failed, and counts the attempt in the
 * metrics by the state it left the entry in. It decides nothing about what a reply means. Thread
 * safe (stateless apart from its collaborators).
 */
final class OutcomeRecorder {

    private final Queue queue;
    private final MailEvents log;
    private final DsnWriter dsn;
    private final Clock clock;
    /** Where attempts are counted; null when nobody collects metrics. */
    private final RelayMetrics metrics;

    OutcomeRecorder(Queue queue, MailEvents log, DsnWriter dsn, Clock clock, RelayMetrics metrics) {
        this.queue = queue;
        this.log = log;
        this.dsn = dsn;
        this.clock = clock;
        this.metrics = metrics;
    }

    /** Records {@code a} as {@link #record(QueueEntry, Attempt, String)} does, and counts it for {@code upstream}. */
    void record(String upstream, QueueEntry e, Attempt a, String delays) {
        count(upstream, e, a, record(e, a, delays));
    }

    /** One count per message attempt, by the state the attempt left the entry in. */
    private void count(String upstream, QueueEntry before, Attempt a, Optional<QueueEntry> after) {
        if (metrics == null || after.isEmpty()) {
            return;
        }
        QueueEntry n = after.get();
        switch (n.state()) {
            case DELIVERED -> {
                metrics.delivered(upstream, before.messageSize());
                metrics.endToEndLatency(Duration.between(before.queuedAt(), clock.instant()));
            }
            case DEFERRED -> metrics.deferred(upstream, replyClass(before, a));
            case FAILED -> metrics.failed(upstream, replyClass(before, a));
            default -> {
                // Other states do not follow an attempt.
            }
        }
    }

    /** The class of the reply the entry records last, as its outcome carries it (io when none came). */
    private static String replyClass(QueueEntry before, Attempt a) {
        return a.last(before.pendingRecipients()).map(o -> o.cause().label()).orElse(Outcome.Cause.IO.label());
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
