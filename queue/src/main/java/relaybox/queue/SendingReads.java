package relaybox.queue;

import java.util.EnumSet;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Owns how reads of the queue show entries being sent: a leased entry is stored in the state it
 * had before the lease, so listings and the oldest-entry lookup lay a snapshot of the leases
 * over the store's answers, outside the queue's monitor.
 */
final class SendingReads {

    private SendingReads() {
    }

    static void scan(AbstractQueue q, Map<QueueId, QueueEntry> sending, QueueFilter filter,
                     Predicate<QueueEntry> visitor) {
        Set<EntryState> at = EnumSet.noneOf(EntryState.class);
        at.addAll(filter.states());
        if (at.contains(EntryState.SENDING)) {
            // A leased entry is stored in the state it had before the lease.
            at.add(EntryState.QUEUED);
            at.add(EntryState.DEFERRED);
        }
        long[] seen = {0};
        q.scanStored(at, filter.after(), e -> {
            QueueEntry v = sending.getOrDefault(e.id(), e);
            if (!filter.test(v)) {
                return true;
            }
            seen[0]++;
            return visitor.test(v) && (filter.limit() == 0 || seen[0] < filter.limit());
        });
    }

    static Optional<QueueEntry> oldest(AbstractQueue q, Map<QueueId, QueueEntry> sending, Set<EntryState> states) {
        QueueEntry best = null;
        for (EntryState s : states) {
            QueueEntry e = s == EntryState.SENDING
                    ? sending.values().stream().min((a, b) -> a.id().compareTo(b.id())).orElse(null)
                    : q.firstStored(s).orElse(null);
            if (e != null && (best == null || e.id().compareTo(best.id()) < 0)) {
                best = sending.getOrDefault(e.id(), e);
            }
        }
        return Optional.ofNullable(best);
    }
}
