package relaybox.queue;

import java.time.Instant;
import java.util.EnumMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Owns what {@link AbstractQueue} keeps in heap besides leases: for each kind (never tried,
 * tried before) the window of next-due entries the dispatcher leases from, and the count of
 * entries per state.
 *
 * <p>The window of a kind holds every waiting, unleased entry whose due key (due time, id) is at
 * most its bound, and nothing else; at most {@link AbstractQueue#WINDOW} of them. A transition
 * adds an entry only when its key is within the bound; when the window runs low it is refilled
 * from the store's due order past the bound; when it overflows its last keys are dropped and the
 * bound moves down. So the window's first entry is always the earliest due entry of its kind,
 * whatever the store holds. Not thread safe: the queue calls it under its monitor.
 */
final class DueWindows {

    /** Reads a kind's waiting entries from the store in due order (see {@link AbstractQueue#storedDue}). */
    interface Store {
        List<QueueEntry> due(boolean fresh, AbstractQueue.Due after, int max);
    }

    /** One kind's window; see the class comment. */
    private static final class Window {
        final boolean fresh;
        final TreeMap<AbstractQueue.Due, QueueEntry> due = new TreeMap<>();
        /** Every waiting entry of this kind with a key up to here is in {@link #due}; null: none known. */
        AbstractQueue.Due bound;
        /** The store holds no waiting entry of this kind beyond the window. */
        boolean complete;

        Window(boolean fresh) {
            this.fresh = fresh;
        }

        boolean covers(AbstractQueue.Due d) {
            return complete || (bound != null && d.compareTo(bound) <= 0);
        }
    }

    private final Window fresh = new Window(true);
    private final Window retry = new Window(false);
    private final EnumMap<EntryState, Long> counts = new EnumMap<>(EntryState.class);
    /** The queue's leases (read only here): leased entries stay out of the windows. */
    private final Map<QueueId, QueueEntry> leased;
    private final Store store;
    private final int size;

    DueWindows(int size, Map<QueueId, QueueEntry> leased, Store store) {
        this.size = size;
        this.leased = leased;
        this.store = store;
        for (EntryState s : EntryState.values()) {
            counts.put(s, 0L);
        }
    }

    /** Starts the counts from the store's. */
    void initCounts(Map<EntryState, Long> stored) {
        for (EntryState s : EntryState.values()) {
            counts.put(s, stored.getOrDefault(s, 0L));
        }
    }

    /** Moves the counts by a recount's differences. */
    void correct(Map<EntryState, Long> diff) {
        diff.forEach((s, d) -> counts.merge(s, d, Long::sum));
    }

    /** Forgets both windows: the next poll refills them from the store's due order. */
    void reread() {
        for (Window w : List.of(fresh, retry)) {
            w.due.clear();
            w.bound = null;
            w.complete = false;
        }
    }

    Map<EntryState, Long> counts() {
        return new EnumMap<>(counts);
    }

    /**
     * Moves counts and the windows from {@code old} (null: new) to {@code next} (null: removed).
     * Returns true when a waiting entry joined a window (the caller wakes who waits for one).
     */
    boolean place(QueueEntry old, QueueEntry next) {
        boolean added = false;
        if (old != null) {
            counts.merge(old.state(), -1L, Long::sum);
            if (waiting(old)) {
                window(old).due.remove(AbstractQueue.Due.of(old));
            }
        }
        if (next != null) {
            counts.merge(next.state(), 1L, Long::sum);
            if (waiting(next) && !leased.containsKey(next.id())) {
                Window w = window(next);
                AbstractQueue.Due d = AbstractQueue.Due.of(next);
                if (w.covers(d)) {
                    w.due.put(d, next);
                    trim(w);
                    added = true;
                }
            }
        }
        return added;
    }

    /** An entry polled from a window was leased: counted as SENDING. */
    void leased(QueueEntry before) {
        counts.merge(before.state(), -1L, Long::sum);
        counts.merge(EntryState.SENDING, 1L, Long::sum);
    }

    /** The earliest entry of one kind due at {@code now}, taken out of its window; null if none. */
    QueueEntry poll(boolean freshKind, Instant now) {
        Window w = freshKind ? fresh : retry;
        fill(w);
        if (w.due.isEmpty() || w.due.firstKey().at() > now.toEpochMilli()) {
            return null;
        }
        return w.due.pollFirstEntry().getValue();
    }

    /** When the next entry of either kind is due (ms), or Long.MAX_VALUE when none waits. */
    long nextDue() {
        fill(fresh);
        fill(retry);
        long next = Long.MAX_VALUE;
        if (!fresh.due.isEmpty()) {
            next = fresh.due.firstKey().at();
        }
        if (!retry.due.isEmpty()) {
            next = Math.min(next, retry.due.firstKey().at());
        }
        return next;
    }

    private static boolean waiting(QueueEntry e) {
        return e.state() == EntryState.QUEUED || e.state() == EntryState.DEFERRED;
    }

    private Window window(QueueEntry e) {
        return e.attempts() == 0 ? fresh : retry;
    }

    private void trim(Window w) {
        while (w.due.size() > size) {
            w.due.pollLastEntry();
            w.complete = false;
            w.bound = w.due.lastKey();
        }
    }

    /** Reads more of the window's kind from the store when it runs low. */
    private void fill(Window w) {
        if (w.complete || w.due.size() >= size / 2) {
            return;
        }
        int want = size - w.due.size() + leased.size();
        List<QueueEntry> got = store.due(w.fresh, w.bound, want);
        for (QueueEntry e : got) {
            if (!leased.containsKey(e.id())) {
                w.due.put(AbstractQueue.Due.of(e), e);
            }
        }
        if (got.size() < want) {
            w.complete = true;
        } else {
            w.bound = AbstractQueue.Due.of(got.get(got.size() - 1));
        }
        trim(w);
    }
}
