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
 *
 * <p>A refill is read from the store outside that monitor ({@link #refillWanted},
 * {@link #refilled}): the read can take tens of milliseconds (MapDB waits for the committer's
 * lock, and reads cold code after a start), and held under the monitor it stopped every
 * session's outcome (and every accept) meanwhile: 10-91 ms in a backlog's drain, during which
 * a kill finds each session between the upstream's reply and its journal record. While one is
 * out, every entry placed is remembered as it was placed last; the store's answer gives way to
 * that, and is dropped whole if the window's bound moved meanwhile (a trim, a synchronous fill,
 * a reread).
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

    /** A refill read outside the monitor: the window, its bound and how many were asked for. */
    static final class Refill {
        private final Window window;
        private final AbstractQueue.Due after;
        private final int max;
        private final long generation;

        private Refill(Window window, int max, long generation) {
            this.window = window;
            this.after = window.bound;
            this.max = max;
            this.generation = generation;
        }

        boolean fresh() {
            return window.fresh;
        }

        AbstractQueue.Due after() {
            return after;
        }

        int max() {
            return max;
        }
    }

    private final Window fresh = new Window(true);
    private final Window retry = new Window(false);
    private final EnumMap<EntryState, Long> counts = new EnumMap<>(EntryState.class);
    /** The queue's leases (read only here): leased entries stay out of the windows. */
    private final Map<QueueId, QueueEntry> leased;
    private final Store store;
    private final int size;
    /** The refill out now, or null: one at a time. */
    private Refill out;
    /** Entries placed while {@link #out} is out: id to the entry as placed last (null: removed). */
    private final Map<QueueId, QueueEntry> touched = new java.util.HashMap<>();
    /** Moves at each {@link #reread}: a refill asked for before it is dropped. */
    private long generation;

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
        generation++;
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
        if (out != null) {
            touched.put(old != null ? old.id() : next.id(), next);
        }
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
        fillIfEmpty(w);
        if (w.due.isEmpty() || w.due.firstKey().at() > now.toEpochMilli()) {
            return null;
        }
        return w.due.pollFirstEntry().getValue();
    }

    /** When the next entry of either kind is due (ms), or Long.MAX_VALUE when none waits. */
    long nextDue() {
        fillIfEmpty(fresh);
        fillIfEmpty(retry);
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

    /**
     * A refill to read from the store outside the monitor, when a window runs low (under half
     * full, more waiting in the store) and none is out; null otherwise. Its answer goes to
     * {@link #refilled}, whatever happens.
     */
    Refill refillWanted() {
        if (out != null) {
            return null;
        }
        for (Window w : new Window[] {fresh, retry}) {
            if (!w.complete && w.due.size() < size / 2) {
                out = new Refill(w, size - w.due.size() + leased.size(), generation);
                touched.clear();
                return out;
            }
        }
        return null;
    }

    /**
     * The store's answer to {@code r} ({@link Store#due}, read outside the monitor), or null when
     * the read failed. Entries placed meanwhile count as placed, not as read; the answer is
     * dropped when the window's bound moved meanwhile. Returns true when entries joined.
     */
    boolean refilled(Refill r, List<QueueEntry> got) {
        if (r != out) {
            return false;
        }
        out = null;
        Window w = r.window;
        try {
            if (got == null || r.generation != generation || w.complete || !java.util.Objects.equals(w.bound, r.after)) {
                return false;
            }
            // The bound moves to the last entry read that nobody placed meanwhile: a placed one
            // may come back as read before or after its change, so its key says nothing of how
            // far the read got.
            int before = w.due.size();
            AbstractQueue.Due last = null;
            for (QueueEntry e : got) {
                if (!touched.containsKey(e.id())) {
                    AbstractQueue.Due d = AbstractQueue.Due.of(e);
                    last = last == null || d.compareTo(last) > 0 ? d : last;
                    if (!leased.containsKey(e.id())) {
                        w.due.put(d, e);
                    }
                }
            }
            boolean complete = got.size() < r.max;
            if (!complete && last == null) {
                // Every entry read was placed meanwhile (none was put): the next leasing asks again.
                return false;
            }
            if (complete) {
                w.complete = true;
            } else {
                w.bound = last;
            }
            // Placed while the read was out and now under the moved bound: place() judged them
            // by the old one.
            for (QueueEntry e : touched.values()) {
                if (e != null && waiting(e) && window(e) == w && !leased.containsKey(e.id())
                        && w.covers(AbstractQueue.Due.of(e))) {
                    w.due.put(AbstractQueue.Due.of(e), e);
                }
            }
            trim(w);
            return w.due.size() > before;
        } finally {
            touched.clear();
        }
    }

    /**
     * Reads more of the window's kind from the store under the monitor, when it is empty and
     * more waits there: the dispatcher would otherwise find nothing while the store holds due
     * mail. (Running low is {@link #refillWanted}'s.) A refill out meanwhile is dropped: the
     * bound moves.
     */
    private void fillIfEmpty(Window w) {
        if (w.complete || !w.due.isEmpty()) {
            return;
        }
        int want = size + leased.size();
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
