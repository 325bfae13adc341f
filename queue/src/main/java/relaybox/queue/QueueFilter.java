package relaybox.queue;

import java.time.Instant;
import java.util.EnumSet;
import java.util.Locale;
import java.util.Set;

/**
 * Which entries a {@link Queue#scan} visits, and how many: the operator's filters (state, age,
 * sender, recipient) and a page (start after an id, stop after a number). Immutable; build it
 * with the {@code with*} methods from {@link #ALL}.
 *
 * @param states      the states wanted; empty means every state
 * @param queuedBefore only entries accepted before this instant, or null for any age
 * @param sender      only entries whose sender contains this (lower case), or ""
 * @param recipient   only entries with a recipient containing this (lower case), or ""
 * @param after       start after this id (the last one of the previous page), or null
 * @param limit       visit at most this many matching entries; 0 for no limit
 */
public record QueueFilter(Set<EntryState> states, Instant queuedBefore, String sender, String recipient,
                          QueueId after, long limit) {

    public static final QueueFilter ALL = new QueueFilter(Set.of(), null, "", "", null, 0);

    public QueueFilter {
        states = states.isEmpty() ? Set.of() : Set.copyOf(EnumSet.copyOf(states));
        sender = sender.toLowerCase(Locale.ROOT);
        recipient = recipient.toLowerCase(Locale.ROOT);
        if (limit < 0) {
            throw new IllegalArgumentException("limit must not be negative: " + limit);
        }
    }

    public static QueueFilter states(EntryState first, EntryState... more) {
        return ALL.withStates(EnumSet.of(first, more));
    }

    /**
     * The selection of a bulk action: every entry in a state {@code event} may start from, as
     * {@link QueueEntry}'s transition table says.
     */
    public static QueueFilter allowing(QueueEntry.Event event) {
        return ALL.withStates(event.from());
    }

    public QueueFilter withStates(Set<EntryState> s) {
        return new QueueFilter(s, queuedBefore, sender, recipient, after, limit);
    }

    public QueueFilter withQueuedBefore(Instant t) {
        return new QueueFilter(states, t, sender, recipient, after, limit);
    }

    public QueueFilter withSender(String s) {
        return new QueueFilter(states, queuedBefore, s, recipient, after, limit);
    }

    public QueueFilter withRecipient(String r) {
        return new QueueFilter(states, queuedBefore, sender, r, after, limit);
    }

    public QueueFilter withAfter(QueueId id) {
        return new QueueFilter(states, queuedBefore, sender, recipient, id, limit);
    }

    public QueueFilter withLimit(long n) {
        return new QueueFilter(states, queuedBefore, sender, recipient, after, n);
    }

    /** Whether {@code e} passes the filters (not the page: {@code after} and {@code limit}). */
    public boolean test(QueueEntry e) {
        if (!states.isEmpty() && !states.contains(e.state())) {
            return false;
        }
        if (queuedBefore != null && !e.queuedAt().isBefore(queuedBefore)) {
            return false;
        }
        if (!sender.isEmpty() && !e.envelope().sender().toLowerCase(Locale.ROOT).contains(sender)) {
            return false;
        }
        return recipient.isEmpty() || e.recipients().stream()
                .anyMatch(r -> r.address().toLowerCase(Locale.ROOT).contains(recipient));
    }
}
