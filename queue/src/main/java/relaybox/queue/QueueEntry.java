package relaybox.queue;

import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * Owns a queue entry's life cycle: one immutable record and one method per event, each returning
 * the next record. The table below is the specification and {@code EntryStateTest} checks it row
 * for row. An event that is not in the table throws {@link IllegalStateException} naming both
 * the state and the event: that is a programming error, not an operational one. The "from"
 * column is {@link Event}: the only place that says which events each state allows (the control
 * service selects the entries a bulk action applies to from it).
 *
 * <pre>
 * from                      event            to
 * (none)                    accepted         QUEUED      durable before the client's 250
 * QUEUED, DEFERRED          leased           SENDING     in memory only; a crash puts it back
 * SENDING                   withOutcome      DELIVERED   no recipient pending, none failed: removed
 * SENDING                   withOutcome      DEFERRED    a recipient still pending; attempts+1
 * SENDING                   withOutcome      FAILED      none pending, one or more failed
 * QUEUED, DEFERRED, FAILED  held             HELD
 * HELD                      released         QUEUED      due now
 * QUEUED, DEFERRED          retriedNow       same        due now
 * FAILED                    requeued         QUEUED      failed recipients pending again, new life
 * SENDING                   recovered        QUEUED      at open after a crash
 * SENDING                   returned         same as before the lease (shutdown mid-attempt)
 * any but SENDING           quarantined      QUARANTINED its message cannot be used
 * </pre>
 *
 * @param id            the queue id, also the spool file name
 * @param state         where the entry is in its life
 * @param envelope      sender, recipients and ESMTP parameters as received
 * @param recipients    per-recipient status, same order as the envelope's recipients
 * @param addedHeaders  header lines the relay added above the client's bytes, CRLF-terminated
 * @param messageSize   bytes of the whole message as sent: added headers plus spooled bytes
 * @param queuedAt      when the intake accepted the message (age shown to operators)
 * @param lifeStart     when the current life began: queuedAt, or the last requeue
 * @param nextAttemptAt when the entry is next due (meaningful for QUEUED and DEFERRED)
 * @param attempts      completed delivery attempts for this entry
 * @param lastReply     the most recent upstream reply (or local reason) for this entry, or ""
 * @param stateBeforeLease the state an entry in SENDING returns to when its attempt is abandoned
 */
public record QueueEntry(QueueId id, EntryState state, Envelope envelope, List<RecipientState> recipients,
                         String addedHeaders, long messageSize, Instant queuedAt, Instant lifeStart, Instant nextAttemptAt,
                         int attempts, String lastReply, EntryState stateBeforeLease) {

    public QueueEntry {
        Objects.requireNonNull(id);
        Objects.requireNonNull(state);
        Objects.requireNonNull(envelope);
        recipients = List.copyOf(recipients);
        Objects.requireNonNull(addedHeaders);
        Objects.requireNonNull(queuedAt);
        Objects.requireNonNull(lifeStart);
        Objects.requireNonNull(nextAttemptAt);
        Objects.requireNonNull(lastReply);
        Objects.requireNonNull(stateBeforeLease);
    }

    /** The events of the table, each with the states it may start from (the "from" column). */
    public enum Event {
        LEASED("leased", EntryState.QUEUED, EntryState.DEFERRED),
        WITH_OUTCOME("withOutcome", EntryState.SENDING),
        HELD("held", EntryState.QUEUED, EntryState.DEFERRED, EntryState.FAILED),
        RELEASED("released", EntryState.HELD),
        RETRIED_NOW("retriedNow", EntryState.QUEUED, EntryState.DEFERRED),
        REQUEUED("requeued", EntryState.FAILED),
        RECOVERED("recovered", EntryState.SENDING),
        RETURNED("returned", EntryState.SENDING),
        QUARANTINED("quarantined", EnumSet.complementOf(EnumSet.of(EntryState.SENDING)));

        private final String word;
        private final Set<EntryState> from;

        Event(String word, EntryState first, EntryState... more) {
            this(word, EnumSet.of(first, more));
        }

        Event(String word, Set<EntryState> from) {
            this.word = word;
            this.from = Set.copyOf(from);
        }

        /** The states this event may start from. */
        public Set<EntryState> from() {
            return from;
        }

        public boolean allows(EntryState s) {
            return from.contains(s);
        }

        /** The transition method's name, as exceptions name it. */
        public String word() {
            return word;
        }
    }

    /** The reply recorded for a pending recipient an attempt did not report on. */
    static final String NO_OUTCOME = "4.3.0 no outcome reported for this recipient";

    public static QueueEntry accepted(QueueId id, Envelope envelope, String addedHeaders, long messageSize,
                                      Instant now) {
        List<RecipientState> rcpts = envelope.recipients().stream().map(RecipientState::pending).toList();
        return new QueueEntry(id, EntryState.QUEUED, envelope, rcpts, addedHeaders, messageSize, now, now, now, 0, "",
                EntryState.QUEUED);
    }

    public QueueEntry leased() {
        require(Event.LEASED);
        return with(EntryState.SENDING, nextAttemptAt, recipients, attempts, lastReply, lifeStart, state);
    }

    /**
     * Records one attempt. A pending recipient missing from {@code outcomes} is treated as
     * deferred, because losing track of a recipient is worse than retrying it. When the entry's
     * life has run out, recipients that are still pending fail with their last reply.
     *
     * @param draw jitter draw for {@link RetrySchedule#next}, uniform in [0, 1)
     */
    public QueueEntry withOutcome(Map<String, DeliveryOutcome> outcomes, RetrySchedule schedule, Instant now,
                                  double draw) {
        require(Event.WITH_OUTCOME);
        boolean expired = schedule.expired(lifeStart, now);
        List<RecipientState> next = new ArrayList<>(recipients.size());
        String reply = lastReply;
        for (RecipientState r : recipients) {
            if (!r.isPending()) {
                next.add(r);
                continue;
            }
            // A recipient nobody reported on is deferred, with a reply saying so.
            DeliveryOutcome o = outcomes.get(r.address());
            reply = o == null ? NO_OUTCOME : o.reply();
            RecipientState.Status status;
            if (o instanceof DeliveryOutcome.Delivered) {
                status = RecipientState.Status.DELIVERED;
            } else if (o instanceof DeliveryOutcome.Failed || expired) {
                status = RecipientState.Status.FAILED;
            } else {
                status = RecipientState.Status.PENDING;
            }
            String recorded = !(o instanceof DeliveryOutcome.Delivered || o instanceof DeliveryOutcome.Failed) && expired
                    ? "expired after " + schedule.lifetime().toDays() + "d in queue; last reply: " + reply
                    : reply;
            next.add(new RecipientState(r.address(), status, r.attempts() + 1, recorded));
        }
        boolean pending = next.stream().anyMatch(RecipientState::isPending);
        boolean failed = next.stream().anyMatch(r -> r.status() == RecipientState.Status.FAILED);
        int tries = attempts + 1;
        if (pending) {
            return with(EntryState.DEFERRED, schedule.next(tries, now, draw), next, tries, reply, lifeStart, state);
        }
        return with(failed ? EntryState.FAILED : EntryState.DELIVERED, nextAttemptAt, next, tries, reply,
                lifeStart, state);
    }

    public QueueEntry held() {
        require(Event.HELD);
        return with(EntryState.HELD, nextAttemptAt, recipients, attempts, lastReply, lifeStart, state);
    }

    public QueueEntry released(Instant now) {
        require(Event.RELEASED);
        return with(EntryState.QUEUED, now, recipients, attempts, lastReply, lifeStart, state);
    }

    public QueueEntry retriedNow(Instant now) {
        require(Event.RETRIED_NOW);
        return with(state, now, recipients, attempts, lastReply, lifeStart, state);
    }

    public QueueEntry requeued(Instant now) {
        require(Event.REQUEUED);
        List<RecipientState> again = recipients.stream()
                .map(r -> r.status() == RecipientState.Status.FAILED
                        ? new RecipientState(r.address(), RecipientState.Status.PENDING, r.attempts(), r.lastReply())
                        : r)
                .toList();
        return with(EntryState.QUEUED, now, again, attempts, lastReply, now, state);
    }

    public QueueEntry recovered(Instant now) {
        require(Event.RECOVERED);
        return with(EntryState.QUEUED, now, recipients, attempts, lastReply, lifeStart, state);
    }

    /** An attempt was abandoned without an outcome (shutdown): back to where it was, unchanged. */
    public QueueEntry returned() {
        require(Event.RETURNED);
        return with(stateBeforeLease, nextAttemptAt, recipients, attempts, lastReply, lifeStart, stateBeforeLease);
    }

    public QueueEntry quarantined(String reason) {
        if (!Event.QUARANTINED.allows(state)) {
            throw new IllegalStateException("cannot quarantine " + id + " in state " + state.word());
        }
        return with(EntryState.QUARANTINED, nextAttemptAt, recipients, attempts, reason, lifeStart, state);
    }

    public List<String> pendingRecipients() {
        return recipients.stream().filter(RecipientState::isPending).map(RecipientState::address).toList();
    }

    private QueueEntry with(EntryState to, Instant due, List<RecipientState> rcpts, int tries, String reply,
                            Instant life, EntryState before) {
        return new QueueEntry(id, to, envelope, rcpts, addedHeaders, messageSize, queuedAt, life, due, tries, reply, before);
    }

    private void require(Event event) {
        if (!event.allows(state)) {
            throw new IllegalStateException("illegal transition: " + event.word() + " from " + state.word() + " (" + id
                    + ")");
        }
    }
}
