package relaybox.queue;

import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Optional;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.function.UnaryOperator;

/**
 * Owns the in-memory index of entries and everything decided from it: which entries are due,
 * leasing, fairness between new mail and retries, and applying life-cycle transitions. It does
 * not own storage: subclasses persist each changed entry through {@link #store} and
 * {@link #drop}, and own the message bytes.
 *
 * <p>Every entry lives in memory (a few hundred bytes each, so a million queued messages cost a
 * few hundred MB of heap); this keeps leasing and listing free of store reads.
 *
 * <p>Thread safety: all index access holds the object's monitor; storage calls are made after
 * the index has been updated and outside the monitor when they wait for a commit.
 */
public abstract class AbstractQueue implements Queue {

    private record Due(Instant at, QueueId id) { }

    private static final Comparator<Due> ORDER = Comparator.comparing(Due::at).thenComparing(Due::id);

    protected final Clock clock;
    protected final RetrySchedule schedule;
    private final Map<QueueId, QueueEntry> entries = new HashMap<>();
    /** Due entries that were never tried: served before retries so a backlog cannot starve them. */
    private final NavigableSet<Due> fresh = new TreeSet<>(ORDER);
    /** Due entries that were tried before. */
    private final NavigableSet<Due> retry = new TreeSet<>(ORDER);

    protected AbstractQueue(Clock clock, RetrySchedule schedule) {
        this.clock = clock;
        this.schedule = schedule;
    }

    /** Persists a new or changed entry. {@code wait}: return only once it is durable. */
    protected abstract void store(QueueEntry entry, boolean wait) throws QueueException;

    /** Removes an entry and its message from storage. {@code wait}: return only once durable. */
    protected abstract void drop(QueueEntry entry, boolean wait) throws QueueException;

    /** Adds an entry to the index (after it is durable, or while loading at open). */
    protected final synchronized void index(QueueEntry e) {
        unindex(entries.put(e.id(), e));
        if (e.state() == EntryState.QUEUED || e.state() == EntryState.DEFERRED) {
            (e.attempts() == 0 ? fresh : retry).add(new Due(e.nextAttemptAt(), e.id()));
            notifyAll();
        }
    }

    private void unindex(QueueEntry old) {
        if (old != null) {
            Due d = new Due(old.nextAttemptAt(), old.id());
            fresh.remove(d);
            retry.remove(d);
        }
    }

    private synchronized QueueEntry deindex(QueueId id) {
        QueueEntry old = entries.remove(id);
        unindex(old);
        return old;
    }

    @Override
    public synchronized List<QueueEntry> leaseDue(Instant now, int max) {
        List<QueueEntry> out = new ArrayList<>();
        boolean takeFresh = true;
        while (out.size() < max) {
            Due d = pollDue(takeFresh ? fresh : retry, now);
            if (d == null) {
                d = pollDue(takeFresh ? retry : fresh, now);
            }
            if (d == null) {
                break;
            }
            takeFresh = !takeFresh;
            QueueEntry leased = entries.get(d.id()).leased();
            entries.put(leased.id(), leased);
            out.add(leased);
        }
        return out;
    }

    private static Due pollDue(NavigableSet<Due> set, Instant now) {
        if (set.isEmpty() || set.first().at().isAfter(now)) {
            return null;
        }
        return set.pollFirst();
    }

    @Override
    public Optional<QueueEntry> recordOutcome(QueueId id, Map<String, DeliveryOutcome> outcomes, Instant now) {
        QueueEntry next;
        synchronized (this) {
            QueueEntry cur = entries.get(id);
            if (cur == null) {
                return Optional.empty();
            }
            next = cur.withOutcome(outcomes, schedule, now, ThreadLocalRandom.current().nextDouble());
            if (next.state() == EntryState.DELIVERED) {
                deindex(id);
            } else {
                index(next);
            }
        }
        try {
            if (next.state() == EntryState.DELIVERED) {
                drop(next, false);
            } else {
                store(next, false);
            }
        } catch (QueueException e) {
            // The index already holds the new state; a store that failed is reported unhealthy by
            // the subclass and the entry is retried from the old durable state after a restart.
            onAsyncStoreFailure(next, e);
        }
        return Optional.of(next);
    }

    /** Called when a write that nobody waits for fails; subclasses log and mark themselves unhealthy. */
    protected abstract void onAsyncStoreFailure(QueueEntry entry, QueueException e);

    @Override
    public void returnLease(QueueId id) {
        transition(id, QueueEntry::returned);
    }

    private synchronized Optional<QueueEntry> transition(QueueId id, UnaryOperator<QueueEntry> event) {
        QueueEntry cur = entries.get(id);
        if (cur == null) {
            return Optional.empty();
        }
        QueueEntry next = event.apply(cur);
        index(next);
        return Optional.of(next);
    }

    /** Applies an admin transition and waits for it to be durable. */
    private ActionResult act(QueueId id, UnaryOperator<QueueEntry> event) throws QueueException {
        QueueEntry before;
        QueueEntry next;
        synchronized (this) {
            before = entries.get(id);
            if (before == null) {
                return ActionResult.NOT_FOUND;
            }
            try {
                next = event.apply(before);
            } catch (IllegalStateException e) {
                return ActionResult.NOT_APPLICABLE;
            }
            index(next);
        }
        try {
            store(next, true);
        } catch (QueueException e) {
            synchronized (this) {
                if (entries.get(id) == next) {
                    index(before);
                }
            }
            throw e;
        }
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
        QueueEntry old;
        synchronized (this) {
            old = entries.get(id);
            if (old == null) {
                return ActionResult.NOT_FOUND;
            }
            if (old.state() == EntryState.SENDING) {
                // The forwarder holds it; deleting now would race its outcome. Hold or retry later.
                return ActionResult.NOT_APPLICABLE;
            }
            deindex(id);
        }
        drop(old, true);
        return ActionResult.DONE;
    }

    @Override
    public int retryAll(Instant now) {
        List<QueueEntry> changed = new ArrayList<>();
        synchronized (this) {
            for (QueueEntry e : List.copyOf(entries.values())) {
                if ((e.state() == EntryState.QUEUED || e.state() == EntryState.DEFERRED)
                        && e.nextAttemptAt().isAfter(now)) {
                    QueueEntry n = e.retriedNow(now);
                    index(n);
                    changed.add(n);
                }
            }
        }
        for (QueueEntry n : changed) {
            try {
                store(n, false);
            } catch (QueueException e) {
                onAsyncStoreFailure(n, e);
            }
        }
        return changed.size();
    }

    @Override
    public synchronized void awaitDue(Duration maxWait) throws InterruptedException {
        Instant now = clock.instant();
        Instant next = earliest();
        if (next != null && !next.isAfter(now)) {
            return;
        }
        long ms = maxWait.toMillis();
        if (next != null) {
            ms = Math.min(ms, Duration.between(now, next).toMillis() + 1);
        }
        if (ms > 0) {
            wait(ms);
        }
    }

    private Instant earliest() {
        Instant a = fresh.isEmpty() ? null : fresh.first().at();
        Instant b = retry.isEmpty() ? null : retry.first().at();
        if (a == null) {
            return b;
        }
        return b == null || a.isBefore(b) ? a : b;
    }

    /** Wakes threads in {@link #awaitDue}, for example at close. */
    protected final synchronized void wakeAll() {
        notifyAll();
    }

    @Override
    public synchronized Optional<QueueEntry> get(QueueId id) {
        return Optional.ofNullable(entries.get(id));
    }

    @Override
    public synchronized List<QueueEntry> list() {
        List<QueueEntry> all = new ArrayList<>(entries.values());
        all.sort(Comparator.comparing(QueueEntry::queuedAt).thenComparing(QueueEntry::id));
        return all;
    }

    @Override
    public synchronized Map<EntryState, Long> counts() {
        Map<EntryState, Long> c = new EnumMap<>(EntryState.class);
        for (EntryState s : EntryState.values()) {
            c.put(s, 0L);
        }
        for (QueueEntry e : entries.values()) {
            c.merge(e.state(), 1L, Long::sum);
        }
        return c;
    }
}
