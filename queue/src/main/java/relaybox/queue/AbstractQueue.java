package relaybox.queue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.EnumMap;
import java.util.EnumSet;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.Predicate;
import java.util.function.Supplier;
import java.util.function.UnaryOperator;

/**
 * Owns what the queue decides in memory: leases (entries in SENDING live only here), the window
 * of next-due entries the dispatcher leases from, fairness between new mail and retries, the
 * per-state counts, and applying life-cycle transitions. It does not own the entries at rest:
 * a subclass stores them and answers for them ({@link #stored}, {@link #storedDue},
 * {@link #scanStored}), so the heap holds only leased entries, the window, and whatever the
 * store has not written yet, never the whole queue.
 *
 * <h2>The window</h2>
 * For each kind (never tried, tried before) the window holds every waiting, unleased entry whose
 * due key (due time, id) is at most its bound, and nothing else; at most {@link #WINDOW} of them.
 * A transition adds an entry only when its key is within the bound; when the window runs low it
 * is refilled from the store's due order past the bound; when it overflows its last keys are
 * dropped and the bound moves down. So the window's first entry is always the earliest due entry
 * of its kind, whatever the store holds.
 *
 * <h2>Thread safety</h2>
 * Transitions hold the object's monitor, and the subclass's {@link #write}/{@link #erase} are
 * called under it so that the store sees them in the order they happened; waiting for a commit
 * happens outside it.
 */
public abstract class AbstractQueue implements Queue {

    /** The most due entries of one kind (fresh, retry) kept in heap for the dispatcher. */
    protected static final int WINDOW = 512;

    /** Where an entry stands in due order: due time (ms) then id. */
    protected record Due(long at, QueueId id) implements Comparable<Due> {
        private static final QueueId LAST = new QueueId("ZZZZZZZZZZZZ");

        public static Due of(QueueEntry e) {
            return new Due(e.nextAttemptAt().toEpochMilli(), e.id());
        }

        /** After every key due at or before {@code at}. */
        public static Due after(Instant at) {
            return new Due(at.toEpochMilli(), LAST);
        }

        @Override
        public int compareTo(Due o) {
            int c = Long.compare(at, o.at);
            return c != 0 ? c : id.compareTo(o.id);
        }
    }

    /** One kind's window; see the class comment. */
    private static final class Window {
        final boolean fresh;
        final TreeMap<Due, QueueEntry> due = new TreeMap<>();
        /** Every waiting entry of this kind with a key up to here is in {@link #due}; null: none known. */
        Due bound;
        /** The store holds no waiting entry of this kind beyond the window. */
        boolean complete;

        Window(boolean fresh) {
            this.fresh = fresh;
        }

        boolean covers(Due d) {
            return complete || (bound != null && d.compareTo(bound) <= 0);
        }
    }

    protected final Clock clock;
    protected final RetrySchedule schedule;
    private final Window fresh = new Window(true);
    private final Window retry = new Window(false);
    /** Entries in SENDING: in memory only; their stored record keeps the state before the lease. */
    private final Map<QueueId, QueueEntry> leased = new HashMap<>();
    private final EnumMap<EntryState, Long> counts = new EnumMap<>(EntryState.class);

    protected AbstractQueue(Clock clock, RetrySchedule schedule) {
        this.clock = clock;
        this.schedule = schedule;
        for (EntryState s : EntryState.values()) {
            counts.put(s, 0L);
        }
    }

    // ---- what the store provides ------------------------------------------------------------

    /** The entry as stored, with every {@link #write}/{@link #erase} so far applied; null if none. */
    protected abstract QueueEntry stored(QueueId id);

    /**
     * Up to {@code max} stored waiting (QUEUED or DEFERRED) entries of one kind ({@code fresh}:
     * never tried) whose due key is after {@code after} (null: from the start), in due order,
     * with every write so far applied. Called under the monitor.
     */
    protected abstract List<QueueEntry> storedDue(boolean fresh, Due after, int max);

    /**
     * Visits stored entries in id order from after {@code after} (null: the start), only those in
     * {@code states} (empty: all), until the visitor returns false. Not called under the monitor;
     * entries changing meanwhile may be seen either way.
     */
    protected abstract void scanStored(Set<EntryState> states, QueueId after, Predicate<QueueEntry> visitor);

    /** The stored entry in {@code state} with the lowest id (the earliest received), if any. */
    protected abstract Optional<QueueEntry> firstStored(EntryState state);

    /**
     * Stores a new or changed entry; called under the monitor. Visible to the methods above at
     * once; the future completes when it is durable. {@code urgent}: someone waits for it.
     */
    protected abstract CompletableFuture<Void> write(QueueEntry entry, boolean urgent);

    /** Removes an entry and its message, as {@link #write} stores one. */
    protected abstract CompletableFuture<Void> erase(QueueEntry entry, boolean urgent);

    /**
     * Waits, outside the monitor, while the store has too many writes outstanding to take another
     * page of a bulk change ({@link #retryAll}); a store that writes at once never waits.
     */
    protected void awaitRoom() {
    }

    /** Throws when the store takes no writes (closed, failed): admin actions fail before changing anything. */
    protected abstract void checkWritable() throws QueueException;

    /** Starts the counts from the store's (at open, before anything is leased). */
    protected final synchronized void initCounts(Map<EntryState, Long> stored) {
        for (EntryState s : EntryState.values()) {
            counts.put(s, stored.getOrDefault(s, 0L));
        }
    }

    /** A newly accepted entry: counted, offered to the window, stored by {@code store} under the monitor. */
    protected final synchronized <T> T admit(QueueEntry e, Supplier<T> store) {
        T t = store.get();
        place(null, e);
        return t;
    }

    // ---- transitions --------------------------------------------------------------------------

    /** Moves counts and the window from {@code old} (null: new) to {@code next} (null: removed). */
    private void place(QueueEntry old, QueueEntry next) {
        if (old != null) {
            counts.merge(old.state(), -1L, Long::sum);
            if (waiting(old)) {
                window(old).due.remove(Due.of(old));
            }
        }
        if (next != null) {
            counts.merge(next.state(), 1L, Long::sum);
            if (waiting(next) && !leased.containsKey(next.id())) {
                Window w = window(next);
                Due d = Due.of(next);
                if (w.covers(d)) {
                    w.due.put(d, next);
                    trim(w);
                    notifyAll();
                }
            }
        }
    }

    private static boolean waiting(QueueEntry e) {
        return e.state() == EntryState.QUEUED || e.state() == EntryState.DEFERRED;
    }

    private Window window(QueueEntry e) {
        return e.attempts() == 0 ? fresh : retry;
    }

    private static void trim(Window w) {
        while (w.due.size() > WINDOW) {
            w.due.pollLastEntry();
            w.complete = false;
            w.bound = w.due.lastKey();
        }
    }

    /** Reads more of the window's kind from the store when it runs low. */
    private void fill(Window w) {
        if (w.complete || w.due.size() >= WINDOW / 2) {
            return;
        }
        int want = WINDOW - w.due.size() + leased.size();
        List<QueueEntry> got = storedDue(w.fresh, w.bound, want);
        for (QueueEntry e : got) {
            if (!leased.containsKey(e.id())) {
                w.due.put(Due.of(e), e);
            }
        }
        if (got.size() < want) {
            w.complete = true;
        } else {
            w.bound = Due.of(got.get(got.size() - 1));
        }
        trim(w);
    }

    private QueueEntry pollDue(Window w, Instant now) {
        fill(w);
        if (w.due.isEmpty() || w.due.firstKey().at() > now.toEpochMilli()) {
            return null;
        }
        return w.due.pollFirstEntry().getValue();
    }

    @Override
    public synchronized List<QueueEntry> leaseDue(Instant now, int max) {
        List<QueueEntry> out = new ArrayList<>();
        boolean takeFresh = true;
        while (out.size() < max) {
            QueueEntry e = pollDue(takeFresh ? fresh : retry, now);
            if (e == null) {
                e = pollDue(takeFresh ? retry : fresh, now);
            }
            if (e == null) {
                break;
            }
            takeFresh = !takeFresh;
            QueueEntry l = e.leased();
            leased.put(l.id(), l);
            counts.merge(e.state(), -1L, Long::sum);
            counts.merge(EntryState.SENDING, 1L, Long::sum);
            out.add(l);
        }
        return out;
    }

    @Override
    public Optional<QueueEntry> recordOutcome(QueueId id, Map<String, DeliveryOutcome> outcomes, Instant now) {
        synchronized (this) {
            QueueEntry cur = leased.remove(id);
            if (cur == null) {
                return Optional.empty();
            }
            QueueEntry next = cur.withOutcome(outcomes, schedule, now, ThreadLocalRandom.current().nextDouble());
            // Nobody waits: a crash before the index write sends the message again, never loses it.
            if (next.state() == EntryState.DELIVERED) {
                erase(next, false);
                place(cur, null);
            } else {
                write(next, false);
                place(cur, next);
            }
            return Optional.of(next);
        }
    }

    @Override
    public synchronized void returnLease(QueueId id) {
        QueueEntry cur = leased.remove(id);
        if (cur != null) {
            // The stored record never left the state before the lease: nothing to write.
            place(cur, cur.returned());
        }
    }

    /**
     * Quarantines an entry whose message turned out damaged, leased or not (a leased one's lease
     * ends here); the write is not waited for. Empty when the entry is gone.
     */
    protected final synchronized Optional<QueueEntry> quarantineEntry(QueueId id, String why) {
        QueueEntry cur = leased.remove(id);
        if (cur == null) {
            cur = stored(id);
        }
        if (cur == null || cur.state() == EntryState.QUARANTINED) {
            return Optional.ofNullable(cur);
        }
        QueueEntry next = (cur.state() == EntryState.SENDING ? cur.returned() : cur).quarantined(why);
        write(next, false);
        place(cur, next);
        return Optional.of(next);
    }

    /** Applies an admin transition and waits for it to be durable. */
    private ActionResult act(QueueId id, UnaryOperator<QueueEntry> event) throws QueueException {
        checkWritable();
        CompletableFuture<Void> done;
        synchronized (this) {
            if (leased.containsKey(id)) {
                // The forwarder holds it; no admin event applies to an entry being sent.
                return ActionResult.NOT_APPLICABLE;
            }
            QueueEntry cur = stored(id);
            if (cur == null) {
                return ActionResult.NOT_FOUND;
            }
            QueueEntry next;
            try {
                next = event.apply(cur);
            } catch (IllegalStateException e) {
                return ActionResult.NOT_APPLICABLE;
            }
            done = write(next, true);
            place(cur, next);
        }
        await(done);
        return ActionResult.DONE;
    }

    @Override
    public ActionResult hold(QueueId id) throws QueueException {
        return act(id, QueueEntry::held);
    }

    @Override
    public ActionResult release(QueueId id) throws QueueException {
        return act(id, e -> e.released(clock.instant()));
    }

    @Override
    public ActionResult retryNow(QueueId id) throws QueueException {
        return act(id, e -> e.retriedNow(clock.instant()));
    }

    @Override
    public ActionResult requeue(QueueId id) throws QueueException {
        return act(id, e -> e.requeued(clock.instant()));
    }

    @Override
    public ActionResult delete(QueueId id) throws QueueException {
        checkWritable();
        CompletableFuture<Void> done;
        synchronized (this) {
            if (leased.containsKey(id)) {
                // The forwarder holds it; deleting now would race its outcome. Hold or retry later.
                return ActionResult.NOT_APPLICABLE;
            }
            QueueEntry cur = stored(id);
            if (cur == null) {
                return ActionResult.NOT_FOUND;
            }
            done = erase(cur, true);
            place(cur, null);
        }
        await(done);
        return ActionResult.DONE;
    }

    /**
     * Walks the store's due order past {@code now}, a page at a time, so a million deferred
     * entries cost a page of heap: each page's writes are queued before the next page is read,
     * and between pages the walk waits while the store has many writes outstanding
     * ({@link #awaitRoom}), so its backlog stays bounded.
     */
    @Override
    public int retryAll(Instant now) {
        int moved = 0;
        for (boolean kind : new boolean[]{false, true}) {
            Due after = Due.after(now);
            while (true) {
                CompletableFuture<Void> last = null;
                int got;
                synchronized (this) {
                    List<QueueEntry> page = storedDue(kind, after, WINDOW);
                    got = page.size();
                    for (QueueEntry e : page) {
                        after = Due.of(e);
                        if (leased.containsKey(e.id())) {
                            continue;
                        }
                        QueueEntry n = e.retriedNow(now);
                        last = write(n, false);
                        place(e, n);
                        moved++;
                    }
                }
                if (last != null && last.isCompletedExceptionally()) {
                    // The store reports its own failure; the entries keep their old schedule.
                    break;
                }
                if (got < WINDOW) {
                    break;
                }
                awaitRoom();
            }
        }
        return moved;
    }

    @Override
    public synchronized void awaitDue(Duration maxWait) throws InterruptedException {
        Instant now = clock.instant();
        fill(fresh);
        fill(retry);
        long next = Long.MAX_VALUE;
        if (!fresh.due.isEmpty()) {
            next = fresh.due.firstKey().at();
        }
        if (!retry.due.isEmpty()) {
            next = Math.min(next, retry.due.firstKey().at());
        }
        if (next <= now.toEpochMilli()) {
            return;
        }
        long ms = maxWait.toMillis();
        if (next != Long.MAX_VALUE) {
            ms = Math.min(ms, next - now.toEpochMilli() + 1);
        }
        if (ms > 0) {
            wait(ms);
        }
    }

    /** Wakes threads in {@link #awaitDue}, for example at close. */
    protected final synchronized void wakeAll() {
        notifyAll();
    }

    @Override
    public synchronized Optional<QueueEntry> get(QueueId id) {
        QueueEntry l = leased.get(id);
        return Optional.ofNullable(l != null ? l : stored(id));
    }

    @Override
    public void scan(QueueFilter filter, Predicate<QueueEntry> visitor) {
        Map<QueueId, QueueEntry> sending;
        synchronized (this) {
            sending = Map.copyOf(leased);
        }
        Set<EntryState> at = EnumSet.noneOf(EntryState.class);
        at.addAll(filter.states());
        if (at.contains(EntryState.SENDING)) {
            // A leased entry is stored in the state it had before the lease.
            at.add(EntryState.QUEUED);
            at.add(EntryState.DEFERRED);
        }
        long[] seen = {0};
        scanStored(at, filter.after(), e -> {
            QueueEntry v = sending.getOrDefault(e.id(), e);
            if (!filter.test(v)) {
                return true;
            }
            seen[0]++;
            return visitor.test(v) && (filter.limit() == 0 || seen[0] < filter.limit());
        });
    }

    @Override
    public Optional<QueueEntry> oldest(Set<EntryState> states) {
        Map<QueueId, QueueEntry> sending;
        synchronized (this) {
            sending = Map.copyOf(leased);
        }
        QueueEntry best = null;
        for (EntryState s : states) {
            QueueEntry e = s == EntryState.SENDING
                    ? sending.values().stream().min((a, b) -> a.id().compareTo(b.id())).orElse(null)
                    : firstStored(s).orElse(null);
            if (e != null && (best == null || e.id().compareTo(best.id()) < 0)) {
                best = sending.getOrDefault(e.id(), e);
            }
        }
        return Optional.ofNullable(best);
    }

    @Override
    public synchronized Map<EntryState, Long> counts() {
        return new EnumMap<>(counts);
    }

    private static void await(CompletableFuture<Void> f) throws QueueException {
        try {
            f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof QueueException q) {
                throw q;
            }
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "queue write failed: " + e.getCause(),
                    e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "interrupted while waiting for the queue commit",
                    e);
        }
    }
}
