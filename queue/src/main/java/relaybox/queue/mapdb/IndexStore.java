package relaybox.queue.mapdb;

import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.Serializer;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.NavigableSet;
import java.util.concurrent.locks.ReentrantReadWriteLock;
import java.util.function.Predicate;

/**
 * Owns the MapDB maps of the queue index and keeps them in step: the entries ({@code entries},
 * the source of truth for every entry not leased), and beside them, changed in the same
 * transaction, a due index (waiting entries by kind, due time and id), a state index (every entry
 * by state and id), per-state counts, and per-segment reference counts. So the queue opens
 * without reading its entries, leases in due order and counts and lists by state without
 * walking everything. Per segment it also counts the live bytes (what a compaction would copy)
 * and keeps the records a compaction has moved away from and must see marked dead. It does not commit: the committer (and the open) calls {@link #flush}
 * then {@code db.commit()}, so the indexes are exactly as durable as the entries.
 *
 * <p>Keys are strings that sort as they should ({@link IndexKeys}). Format {@link #VERSION}; a
 * store without it (written before these indexes existed, or whose indexes are in doubt) is
 * re-indexed at open by one walk over its entries.
 */
final class IndexStore {

    static final long VERSION = 4;
    /**
     * What one live entry's ACCEPT record counts for in its segment's live bytes, besides a small
     * message's bytes: about an entry's encoded size. A function of the location alone, so the
     * count moves back exactly as it moved on.
     */
    static final long ENTRY_BYTES = 512;
    private static final String VERSION_KEY = "#index_version";

    final BTreeMap<String, byte[]> records;
    final NavigableSet<String> due;
    final NavigableSet<String> states;
    final BTreeMap<String, Long> counters;
    /** Live entries whose bytes are in each spool segment. */
    final BTreeMap<Long, Long> segmentRefs;
    /** Per segment, the end of the furthest message bytes a live entry has there (checked at open). */
    final BTreeMap<Long, Long> segmentEnds;
    /** Ids of live entries whose message is in its own spool file. */
    final NavigableSet<String> files;
    /** Per segment, the live bytes its entries keep there (see {@link #liveBytes}). */
    final BTreeMap<Long, Long> segmentLive;
    /**
     * Records an entry moved away from (compaction): {@link IndexKeys#movedKey} of segment and record start.
     * Each is marked dead after the commit that moved its entry; kept here until then, so an open
     * after a crash in between marks it, and a rebuild from the spool finds one live record.
     */
    final NavigableSet<String> moved;
    private final IndexDamage damage;
    /**
     * Held for writing by the committer while it applies a batch to the maps, for reading by a
     * walk of the due index ({@link IndexView#due}) and by a read that must not race a batch
     * ({@link #get}).
     */
    final ReentrantReadWriteLock lock = new ReentrantReadWriteLock();
    private final Map<String, Long> counterDelta = new HashMap<>();
    private final Map<Long, Long> refDelta = new HashMap<>();
    private final Map<Long, Long> liveDelta = new HashMap<>();
    /**
     * While a cross-check audits the index after an unclean stop: told of every change to an
     * entry, so its tally stays exact for the entries it has passed. Set before the committer
     * starts, cleared by the committer's thread (the only one that changes entries).
     */
    IndexAudit audit;

    @SuppressWarnings("unchecked")
    IndexStore(DB db, IndexDamage damage) {
        this.damage = damage;
        records = db.treeMap("entries", Serializer.STRING, Serializer.BYTE_ARRAY).valuesOutsideNodesEnable().createOrOpen();
        due = (NavigableSet<String>) db.treeSet("due", Serializer.STRING).createOrOpen();
        states = (NavigableSet<String>) db.treeSet("states", Serializer.STRING).createOrOpen();
        counters = db.treeMap("counters", Serializer.STRING, Serializer.LONG).createOrOpen();
        segmentRefs = db.treeMap("segment_refs", Serializer.LONG, Serializer.LONG).createOrOpen();
        segmentEnds = db.treeMap("segment_ends", Serializer.LONG, Serializer.LONG).createOrOpen();
        files = (NavigableSet<String>) db.treeSet("files", Serializer.STRING).createOrOpen();
        segmentLive = db.treeMap("segment_live", Serializer.LONG, Serializer.LONG).createOrOpen();
        moved = (NavigableSet<String>) db.treeSet("moved", Serializer.STRING).createOrOpen();
    }

    /** Whether the indexes were written by this version and can be trusted without a walk. */
    boolean current() {
        return counters.getOrDefault(VERSION_KEY, 0L) == VERSION;
    }

    /** Empties the indexes before a walk over the entries rebuilds them. */
    void clearIndexes() throws IOException {
        due.clear();
        states.clear();
        counters.clear();
        segmentRefs.clear();
        segmentEnds.clear();
        files.clear();
        segmentLive.clear();
        counterDelta.clear();
        refDelta.clear();
        liveDelta.clear();
        // MapDB's clear removes key by key, each found by a descent that compares keys: a key
        // damaged out of order is not found there and stays, where a later walk along the leaves
        // meets it (a due key naming no queue id). A tree that does not come out empty is damaged,
        // and the open rebuilds the index from the spool.
        if (due.iterator().hasNext() || states.iterator().hasNext() || files.iterator().hasNext()
                || !counters.isEmpty() || !segmentRefs.isEmpty() || !segmentLive.isEmpty()) {
            throw new IOException("queue index damaged: an index still holds keys after it was cleared");
        }
    }

    void markCurrent() {
        counters.put(VERSION_KEY, VERSION);
    }

    /**
     * Writes {@code next} (null: removes the entry) over {@code old} (null: none stored), moving
     * every index entry and count. {@code loc} is where the message bytes are.
     */
    void apply(QueueId id, EntryCodec.Stored old, QueueEntry next, SpoolLocation loc) {
        String key = id.value();
        if (audit != null) {
            audit.changed(key, old, next, loc);
        }
        if (old != null) {
            unindex(old.entry(), old.location(), next == null);
        }
        if (next == null) {
            records.remove(key);
            return;
        }
        records.put(key, EntryCodec.encode(next, loc));
        index(next, loc, old == null);
    }

    private void index(QueueEntry e, SpoolLocation loc, boolean newReference) {
        if (IndexKeys.waiting(e.state())) {
            due.add(IndexKeys.dueKey(e));
        }
        states.add(IndexKeys.stateKey(e.state(), e.id().value()));
        counterDelta.merge(e.state().name(), 1L, Long::sum);
        if (newReference) {
            if (loc.inFile()) {
                files.add(e.id().value());
            }
            // A large message keeps the segment of its ACCEPT record, as a small one keeps its bytes'.
            keep(loc, 1);
        }
    }

    /** Counts ({@code sign} 1) or drops (-1) the hold of a location on its segment. */
    private void keep(SpoolLocation loc, int sign) {
        if (loc.keeps() >= 0) {
            refDelta.merge(loc.keeps(), (long) sign, Long::sum);
            liveDelta.merge(loc.keeps(), sign * liveBytes(loc), Long::sum);
        }
        if (sign > 0 && !loc.inFile()) {
            long end = loc.offset() + loc.length();
            if (segmentEnds.getOrDefault(loc.segment(), 0L) < end) {
                segmentEnds.put(loc.segment(), end);
            }
        }
    }

    /** What a live entry at {@code loc} counts for in its segment's live bytes. */
    static long liveBytes(SpoolLocation loc) {
        return ENTRY_BYTES + (loc.inFile() ? 0 : loc.length());
    }

    /**
     * Points an indexed entry at a copy of its record ({@code to}; compaction), moving its segment
     * references and live bytes, and remembers the old record ({@code fromStart} in the segment
     * {@code from} keeps) to be marked dead.
     */
    void relocate(EntryCodec.Stored old, SpoolLocation to, long fromStart) {
        if (audit != null) {
            audit.moved(old, to);
        }
        records.put(old.entry().id().value(), EntryCodec.encode(old.entry(), to));
        keep(old.location(), -1);
        keep(to, 1);
        moved.add(IndexKeys.movedKey(old.location().keeps(), fromStart));
    }

    private void unindex(QueueEntry e, SpoolLocation loc, boolean dropReference) {
        if (IndexKeys.waiting(e.state())) {
            due.remove(IndexKeys.dueKey(e));
        }
        states.remove(IndexKeys.stateKey(e.state(), e.id().value()));
        counterDelta.merge(e.state().name(), -1L, Long::sum);
        if (dropReference) {
            if (loc.inFile()) {
                files.remove(e.id().value());
            }
            keep(loc, -1);
        }
    }

    /** Writes the batch's count changes; before each commit. */
    void flush() {
        counterDelta.forEach((k, d) -> {
            if (d != 0) {
                counters.put(k, counters.getOrDefault(k, 0L) + d);
            }
        });
        refDelta.forEach((seg, d) -> {
            long n = segmentRefs.getOrDefault(seg, 0L) + d;
            if (n > 0) {
                segmentRefs.put(seg, n);
            } else {
                segmentRefs.remove(seg);
                segmentEnds.remove(seg);
            }
        });
        liveDelta.forEach((seg, d) -> {
            long n = segmentLive.getOrDefault(seg, 0L) + d;
            if (n > 0 && segmentRefs.containsKey(seg)) {
                segmentLive.put(seg, n);
            } else {
                segmentLive.remove(seg);
            }
        });
        counterDelta.clear();
        refDelta.clear();
        liveDelta.clear();
    }

    /**
     * Runs a read of the maps; a failure that came out of MapDB means the index is damaged
     * ({@link IndexDamage}): it is reported, and the read ends in {@link IndexDamage.Damaged}.
     */
    <T> T read(java.util.function.Supplier<T> r) {
        try {
            return r.get();
        } catch (IndexDamage.Damaged d) {
            throw d;
        } catch (RuntimeException | InternalError | java.io.IOError e) {
            if (!IndexDamage.fromStore(e)) {
                throw e;
            }
            throw damage.report(e);
        }
    }

    /** Reports the index damaged (see {@link IndexDamage#report}); for what an audit finds. */
    IndexDamage.Damaged damaged(Throwable why) {
        return damage.report(why);
    }

    Map<EntryState, Long> counts() {
        return read(() -> {
            Map<EntryState, Long> c = new EnumMap<>(EntryState.class);
            for (EntryState s : EntryState.values()) {
                c.put(s, counters.getOrDefault(s.name(), 0L));
            }
            return c;
        });
    }

    EntryCodec.Stored get(String id) {
        EntryCodec.Stored st = decoded(id);
        if (st == null || st.entry().id().value().equals(id)) {
            return st;
        }
        // Another key's value. A read racing the committer may see one (MapDB frees a removed
        // value's record, and a put may take it, between a reader's look at the node and at the
        // value): read again while the committer cannot apply a batch. Still another key's is
        // damage.
        lock.readLock().lock();
        try {
            st = decoded(id);
        } finally {
            lock.readLock().unlock();
        }
        return st == null ? null : checkedKey(id, st);
    }

    private EntryCodec.Stored decoded(String id) {
        byte[] raw = read(() -> records.get(id));
        if (raw == null) {
            return null;
        }
        try {
            return EntryCodec.decodeStored(raw);
        } catch (EntryCodec.DecodeException e) {
            // There but unreadable: stepped over, its entry would wait unseen.
            throw damage.report(new IllegalStateException("index record of " + id + " does not decode: "
                    + e.getMessage(), e));
        }
    }

    /**
     * {@code st}, read under {@code key}, if it is that key's entry. After a kill -9 MapDB has
     * handed back another key's value for good (CrashLoopIT: "index entry 2P3ZX7E3E9FX holds
     * another entry", found by the cross-check after a restart): acted on, it would send one
     * message in place of another and record the outcome against the wrong entry. Such an index
     * is damaged.
     */
    private EntryCodec.Stored checkedKey(String key, EntryCodec.Stored st) {
        if (!st.entry().id().value().equals(key)) {
            throw damage.report(new IllegalStateException("index entry " + key + " holds another entry ("
                    + st.entry().id() + ")"));
        }
        return st;
    }

    /**
     * Visits ids in due order of one kind after {@code afterKey} (exclusive; null from the start)
     * until the visitor returns false.
     */
    void dueIds(boolean fresh, String afterKey, Predicate<String> visitor) {
        String prefix = fresh ? "F" : "R";
        NavigableSet<String> range = afterKey == null ? due.subSet(prefix, true, prefix + "~", false)
                : due.subSet(afterKey, false, prefix + "~", false);
        visit(range, 13, visitor);
    }

    /**
     * Hands each key of {@code range} (without its first {@code skip} characters) to the visitor
     * until it returns false; the iteration is a read of the index, the visitor is not. A key
     * that names no queue id was damaged on disk: the index is reported damaged (and rebuilt from
     * the spool at the next open) rather than stepped over, since the entry it stood for would
     * otherwise wait unseen.
     */
    private void visit(NavigableSet<String> range, int skip, Predicate<String> visitor) {
        java.util.Iterator<String> it = read(range::iterator);
        while (read(it::hasNext)) {
            String k = read(it::next);
            String id = k.substring(Math.min(skip, k.length()));
            if (!QueueId.isValid(id)) {
                throw damage.report(new IllegalStateException("index key names no queue id: " + k));
            }
            if (!visitor.test(id)) {
                return;
            }
        }
    }

    /** Visits ids in {@code state} in id order after {@code after} (null: from the start). */
    void stateIds(EntryState state, String after, Predicate<String> visitor) {
        String p = String.valueOf(IndexKeys.letter(state));
        NavigableSet<String> range = after == null ? states.subSet(p, true, p + "~", false)
                : states.subSet(p + after, false, p + "~", false);
        visit(range, 1, visitor);
    }
}
