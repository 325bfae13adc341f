package relaybox.queue.mapdb;

import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.function.Predicate;

/** Owns one scan's merge: interleaves staged writes (in id order) with stored records during a scan. */
final class ScanMerge {
    private final Set<EntryState> states;
    private final Predicate<QueueEntry> visitor;
    private final Iterator<Map.Entry<QueueId, IndexOp.Staged>> staged;
    private Map.Entry<QueueId, IndexOp.Staged> next;
    boolean going = true;

    ScanMerge(Set<EntryState> states, Predicate<QueueEntry> visitor,
              Iterator<Map.Entry<QueueId, IndexOp.Staged>> staged) {
        this.states = states;
        this.visitor = visitor;
        this.staged = staged;
        this.next = staged.hasNext() ? staged.next() : null;
    }

    /** Emits staged entries up to (and including) {@code id}; false once the visitor stopped. */
    boolean before(QueueId id) {
        while (going && next != null && next.getKey().compareTo(id) <= 0) {
            QueueEntry e = next.getValue().entry();
            next = staged.hasNext() ? staged.next() : null;
            if (e != null) {
                emit(e);
            }
        }
        return going;
    }

    boolean emit(QueueEntry e) {
        if (going && (states.isEmpty() || states.contains(e.state()))) {
            going = visitor.test(e);
        }
        return going;
    }

    void rest() {
        while (going && next != null) {
            QueueEntry e = next.getValue().entry();
            next = staged.hasNext() ? staged.next() : null;
            if (e != null) {
                emit(e);
            }
        }
    }
}
