package relaybox.queue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
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
 * <p>The window of next-due entries and the per-state counts are {@link DueWindows}'; the bulk
 * {@link #retryAll} walk is {@link RetryAll}'s.
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

    protected final Clock clock;
    protected final RetrySchedule schedule;
    /** Entries in SENDING: in memory only; their stored record keeps the state before the lease. */
    private final Map<QueueId, QueueEntry> leased = new HashMap<>();
    private final DueWindows windows = new DueWindows(WINDOW, leased, this::storedDue);

    protected AbstractQueue(Clock clock, RetrySchedule schedule) {
        this.clock = clock;
        this.schedule = schedule;
    }

    // ---- what the store provides ------------------------------------------------------------

    /** The entry as stored, with every {@link #write}/{@link #erase} so far applied; null if none. */
    protected abstract QueueEntry stored(QueueId id);

    /**
     * Up to {@code max} stored waiting (QUEUED or DEFERRED) entries of one kind ({@code fresh}:
     * never tried) whose due key is after {@code after} (null: from the start), in due order,
     * with every write so far applied. Called with the monitor held or not (a refill is read
     * outside it): entries changing meanwhile may be seen either way, and none may be handed
     * out twice or half-written.
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
        windows.initCounts(stored);
    }

    /**
     * The store recounted its entries (a cross-check after an unclean stop) and found its counts
     * off by {@code diff} per state: the counts move by as much. With {@code reread}, it also put
     * back due keys it had lost: the windows are read from the store again, so that no waiting
     * entry stays unseen behind a window that believed itself complete.
     */
    protected final synchronized void corrected(Map<EntryState, Long> diff, boolean reread) {
        windows.correct(diff);
        if (reread) {
            windows.reread();
            notifyAll();
        }
    }

    /** A newly accepted entry: counted, offered to the window, stored by {@code store} under the monitor. */
    protected final synchronized <T> T admit(QueueEntry e, Supplier<T> store) {
        T t = store.get();
        place(null, e);
        return t;
    }

    // ---- transitions --------------------------------------------------------------------------

    /**
     * Moves counts and the windows from {@code old} (null: new) to {@code next} (null: removed).
     * Caller holds the monitor; package-private only so that {@link RetryAll} can call it.
     */
    void place(QueueEntry old, QueueEntry next) {
        if (windows.place(old, next)) {
            notifyAll();
        }
    }

    @Override
    public List<QueueEntry> leaseDue(Instant now, int max) {
        refill();
        return leaseFromWindows(now, max);
    }

    /**
     * Reads the next due entries from the store when a window runs low, outside the monitor
     * ({@link DueWindows#refillWanted}): under it, the read held up every outcome meanwhile.
     */
    private void refill() {
        DueWindows.Refill r;
        synchronized (this) {
            r = windows.refillWanted();
        }
        if (r == null) {
            return;
        }
        List<QueueEntry> got = null;
        try {
            got = storedDue(r.fresh(), r.after(), r.max());
        } finally {
            synchronized (this) {
                if (windows.refilled(r, got)) {
                    notifyAll();
                }
            }
        }
    }

    private synchronized List<QueueEntry> leaseFromWindows(Instant now, int max) {
        List<QueueEntry> out = new ArrayList<>();
        boolean takeFresh = true;
        while (out.size() < max) {
            QueueEntry e = windows.poll(takeFresh, now);
            if (e == null) {
                e = windows.poll(!takeFresh, now);
            }
            if (e == null) {
                break;
            }
            takeFresh = !takeFresh;
            QueueEntry l = e.leased();
            leased.put(l.id(), l);
            windows.leased(e);
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

    /** See {@link RetryAll#run}: a page of the store at a time, at the store's pace. */
    @Override
    public int retryAll(Instant now) {
        return RetryAll.run(this, leased, now);
    }

    @Override
    public synchronized void awaitDue(Duration maxWait) throws InterruptedException {
        Instant now = clock.instant();
        long next = windows.nextDue();
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
        SendingReads.scan(this, sending(), filter, visitor);
    }

    @Override
    public Optional<QueueEntry> oldest(Set<EntryState> states) {
        return SendingReads.oldest(this, sending(), states);
    }

    /** A snapshot of the leases, for reads that run outside the monitor. */
    private synchronized Map<QueueId, QueueEntry> sending() {
        return Map.copyOf(leased);
    }

    @Override
    public synchronized Map<EntryState, Long> counts() {
        return windows.counts();
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
