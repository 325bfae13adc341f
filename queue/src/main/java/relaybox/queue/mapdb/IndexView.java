package relaybox.queue.mapdb;

import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.BooleanSupplier;
import java.util.function.Predicate;

/**
 * Owns what the queue's reads see of stored entries: the overlay of writes on their way to the
 * {@link IndexCommitter} laid over the MapDB index ({@link IndexStore}), so a write is visible at
 * once although it reaches MapDB up to 100 ms later. The overlay is bounded by the committer's
 * backlog, not by the queue's depth.
 */
final class IndexView {

    /** Due order: due time (ms), then id, as the due index sorts. */
    static final Comparator<QueueEntry> DUE_ORDER = Comparator.<QueueEntry>comparingLong(
            e -> e.nextAttemptAt().toEpochMilli()).thenComparing(QueueEntry::id);

    final IndexStore index;
    /**
     * Writes on their way to the committer, by id: what reads see before the MapDB maps have it.
     * The committer removes an id once it has applied that very write (a later write stays).
     */
    final Map<QueueId, IndexOp.Staged> overlay = new ConcurrentHashMap<>();
    /**
     * The index's lock ({@link IndexStore#lock}): held by the committer while it applies a batch
     * to the maps, and by {@link #due} while it walks the due index, so that the walk sees a
     * batch's due keys all before or all after it.
     */
    final ReentrantReadWriteLock indexLock;

    /**
     * Where the messages being sent are, as {@link #locationForSending} read them, each with the
     * count of relocations before that read: their outcomes journal against these without
     * reading MapDB. Such a read under the queue's lock waited for the rest of any index commit
     * (MapDB holds its locks through the commit's fsync), so in a drain of a backlog, where every
     * entry is an old one, the other sessions' outcomes waited behind it, and the window between
     * the upstream having a message and the journal recording it grew to most of a message's
     * time: about 3 duplicates per kill -9 among 4 sessions (bench/kill-dups.sh). A location moves
     * only by a relocation (compaction), so one remembered before the last relocation is not
     * trusted. Entries leave when their lease ends.
     */
    private final Map<QueueId, Remembered> sending = new ConcurrentHashMap<>();
    private final AtomicLong relocations = new AtomicLong();

    private record Remembered(SpoolLocation location, long relocations) {
    }

    IndexView(IndexStore index) {
        this.index = index;
        this.indexLock = index.lock;
    }

    /** The entry as stored, overlay first; null if none. */
    QueueEntry stored(QueueId id) {
        IndexOp.Staged s = overlay.get(id);
        if (s != null) {
            return s.entry();
        }
        EntryCodec.Stored st = index.get(id.value());
        return st == null ? null : st.entry();
    }

    /**
     * Where an entry's message bytes are: known to the overlay for a new or a moved entry, else
     * remembered for sending (if nothing moved since), else in its record.
     */
    SpoolLocation location(QueueId id) {
        IndexOp.Staged s = overlay.get(id);
        if (s != null && s.location() != null) {
            return s.location();
        }
        Remembered r = sending.get(id);
        if (r != null && r.relocations() == relocations.get()) {
            return r.location();
        }
        EntryCodec.Stored st = index.get(id.value());
        return st == null ? null : st.location();
    }

    /** {@link #location}, remembered until {@link #sent} for the outcome's journal record. */
    SpoolLocation locationForSending(QueueId id) {
        // Counted before the read: a relocation that overlaps it makes the count differ.
        long before = relocations.get();
        SpoolLocation loc = location(id);
        if (loc != null) {
            sending.put(id, new Remembered(loc, before));
        }
        return loc;
    }

    /** How many locations are remembered for sending (tests: none is left behind). */
    int rememberedForSending() {
        return sending.size();
    }

    /** The lease of {@code id} ended: its location is read from the index again. */
    void sent(QueueId id) {
        sending.remove(id);
    }

    /**
     * An entry moved: no remembered location is trusted from now on. Called after the move is in
     * the overlay, so a read that finds the count unchanged found the overlay's location.
     */
    void relocated() {
        relocations.incrementAndGet();
    }

    /**
     * Up to {@code max} waiting entries of one kind whose due key is after ({@code afterAt},
     * {@code afterId}) (afterId null: from the start) in due order, index and overlay together.
     */
    List<QueueEntry> due(boolean fresh, long afterAt, QueueId afterId, int max) {
        // The overlay is read once, before the index: the committer takes an id out of the
        // overlay only after the maps have its write, so each id is seen in one of the two. Read
        // live, an id the committer cleared between the index walk (skipped: still staged) and
        // the overlay walk (gone) was missed, and a lease refill took the window for complete
        // with entries still waiting (OperatorDrillTest leased 297 of 1,000 in CI).
        Map<QueueId, IndexOp.Staged> staged = new HashMap<>(overlay);
        indexLock.readLock().lock();
        try {
            String afterKey = afterId == null ? null : IndexKeys.dueKey(fresh, afterAt, afterId.value());
            List<QueueEntry> out = new ArrayList<>();
            index.dueIds(fresh, afterKey, id -> {
                if (!staged.containsKey(new QueueId(id))) {
                    EntryCodec.Stored st = index.get(id);
                    if (st != null) {
                        out.add(st.entry());
                    }
                }
                return out.size() < max;
            });
            for (IndexOp.Staged s : staged.values()) {
                QueueEntry e = s.entry();
                if (e != null && (e.state() == EntryState.QUEUED || e.state() == EntryState.DEFERRED)
                        && (e.attempts() == 0) == fresh && (afterId == null || after(e, afterAt, afterId))) {
                    out.add(e);
                }
            }
            out.sort(DUE_ORDER);
            return out.size() > max ? new ArrayList<>(out.subList(0, max)) : out;
        } finally {
            indexLock.readLock().unlock();
        }
    }

    private static boolean after(QueueEntry e, long at, QueueId id) {
        int c = Long.compare(e.nextAttemptAt().toEpochMilli(), at);
        return c != 0 ? c > 0 : e.id().compareTo(id) > 0;
    }

    /** Visits stored entries in id order after {@code after}, only those in {@code states} (empty: all). */
    void scan(Set<EntryState> states, QueueId after, Predicate<QueueEntry> visitor) {
        // Writes not yet applied, merged into the store's id order; they win over the record.
        TreeMap<QueueId, IndexOp.Staged> staged = new TreeMap<>(overlay);
        Iterator<Map.Entry<QueueId, IndexOp.Staged>> ov =
                (after == null ? staged : staged.tailMap(after, false)).entrySet().iterator();
        ScanMerge m = new ScanMerge(states, visitor, ov);
        if (states.size() == 1) {
            index.stateIds(states.iterator().next(), after == null ? null : after.value(), id -> {
                QueueId q = new QueueId(id);
                if (!m.before(q) || staged.containsKey(q)) {
                    return m.going;
                }
                EntryCodec.Stored st = index.get(id);
                return st == null || m.emit(st.entry());
            });
        } else {
            var range = after == null ? index.records : index.records.tailMap(after.value(), false);
            Iterator<Map.Entry<String, byte[]>> it = index.read(() -> range.entrySet().iterator());
            while (index.read(it::hasNext)) {
                Map.Entry<String, byte[]> r = index.read(it::next);
                QueueId q = new QueueId(r.getKey());
                if (!m.before(q)) {
                    break;
                }
                if (staged.containsKey(q)) {
                    continue;
                }
                try {
                    EntryCodec.Stored st = EntryCodec.decodeStored(r.getValue());
                    if (!st.entry().id().value().equals(r.getKey())) {
                        // Another key's value: read it again, as get() does (a race, or damage).
                        st = index.get(r.getKey());
                        if (st == null) {
                            continue;
                        }
                    }
                    if (!m.emit(st.entry())) {
                        break;
                    }
                } catch (EntryCodec.DecodeException ex) {
                    // Unreadable records are quarantined at open; a listing goes on past them.
                }
            }
        }
        m.rest();
    }

    /** The stored entry in {@code state} with the lowest id, if any. */
    Optional<QueueEntry> first(EntryState state) {
        // One read of the overlay before the index, as in due().
        Map<QueueId, IndexOp.Staged> staged = new HashMap<>(overlay);
        QueueEntry[] found = {null};
        index.stateIds(state, null, id -> {
            IndexOp.Staged s = staged.get(new QueueId(id));
            QueueEntry e = s != null ? s.entry() : Optional.ofNullable(index.get(id))
                    .map(EntryCodec.Stored::entry).orElse(null);
            if (e != null && e.state() == state) {
                found[0] = e;
                return false;
            }
            return true;
        });
        for (IndexOp.Staged s : staged.values()) {
            QueueEntry e = s.entry();
            if (e != null && e.state() == state && (found[0] == null || e.id().compareTo(found[0].id()) < 0)) {
                found[0] = e;
            }
        }
        return Optional.ofNullable(found[0]);
    }

    /** Waits while more than {@code max} writes are on their way and {@code going} holds. */
    void awaitBelow(int max, BooleanSupplier going) {
        while (overlay.size() > max && going.getAsBoolean()) {
            synchronized (overlay) {
                try {
                    overlay.wait(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /** The committer cleared writes: wakes {@link #awaitBelow}. */
    void cleared() {
        synchronized (overlay) {
            overlay.notifyAll();
        }
    }
}
