package relaybox.queue.mapdb;

import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.Serializer;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.util.EnumMap;
import java.util.HashMap;
import java.util.Map;
import java.util.NavigableSet;
import java.util.function.Predicate;

/**
 * Owns the MapDB maps of the queue index and keeps them in step: the entries ({@code entries},
 * the source of truth for every entry not leased), and beside them, changed in the same
 * transaction, a due index (waiting entries by kind, due time and id), a state index (every entry
 * by state and id), per-state counts, and per-segment reference counts. So the queue opens
 * without reading its entries, leases in due order and counts and lists by state without
 * walking everything. It does not commit: the committer (and the open) calls {@link #flush}
 * then {@code db.commit()}, so the indexes are exactly as durable as the entries.
 *
 * <p>Keys are strings that sort as they should: due {@code F|R} + 12 hex digits of due time in
 * ms + id ({@code F}: never tried); state one letter per state + id. Format {@link #VERSION}; a
 * store without it (written before these indexes existed, or whose indexes are in doubt) is
 * re-indexed at open by one walk over its entries.
 */
final class IndexStore {

    static final long VERSION = 3;
    private static final String VERSION_KEY = "#index_version";

    final BTreeMap<String, byte[]> records;
    private final NavigableSet<String> due;
    private final NavigableSet<String> states;
    private final BTreeMap<String, Long> counters;
    /** Live entries whose bytes are in each spool segment. */
    final BTreeMap<Long, Long> segmentRefs;
    /** Per segment, the end of the furthest message bytes a live entry has there (checked at open). */
    final BTreeMap<Long, Long> segmentEnds;
    /** Ids of live entries whose message is in its own spool file. */
    final NavigableSet<String> files;
    private final IndexDamage damage;
    private final Map<String, Long> counterDelta = new HashMap<>();
    private final Map<Long, Long> refDelta = new HashMap<>();

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
    }

    /** Whether the indexes were written by this version and can be trusted without a walk. */
    boolean current() {
        return counters.getOrDefault(VERSION_KEY, 0L) == VERSION;
    }

    /** Empties the indexes before a walk over the entries rebuilds them. */
    void clearIndexes() {
        due.clear();
        states.clear();
        counters.clear();
        segmentRefs.clear();
        segmentEnds.clear();
        files.clear();
        counterDelta.clear();
        refDelta.clear();
    }

    void markCurrent() {
        counters.put(VERSION_KEY, VERSION);
    }

    /**
     * Writes {@code next} (null: removes the entry) over {@code old} (null: none stored), moving
     * every index entry and count. {@code loc} is where the message bytes are.
     */
    void apply(QueueId id, EntryCodec.Stored old, QueueEntry next, Spool.Location loc) {
        String key = id.value();
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

    private void index(QueueEntry e, Spool.Location loc, boolean newReference) {
        if (waiting(e.state())) {
            due.add(dueKey(e));
        }
        states.add(stateKey(e.state(), e.id().value()));
        counterDelta.merge(e.state().name(), 1L, Long::sum);
        if (newReference) {
            if (loc.inFile()) {
                files.add(e.id().value());
            }
            // A large message keeps the segment of its ACCEPT record, as a small one keeps its bytes'.
            if (loc.keeps() >= 0) {
                refDelta.merge(loc.keeps(), 1L, Long::sum);
            }
            if (!loc.inFile()) {
                long end = loc.offset() + loc.length();
                if (segmentEnds.getOrDefault(loc.segment(), 0L) < end) {
                    segmentEnds.put(loc.segment(), end);
                }
            }
        }
    }

    private void unindex(QueueEntry e, Spool.Location loc, boolean dropReference) {
        if (waiting(e.state())) {
            due.remove(dueKey(e));
        }
        states.remove(stateKey(e.state(), e.id().value()));
        counterDelta.merge(e.state().name(), -1L, Long::sum);
        if (dropReference) {
            if (loc.inFile()) {
                files.remove(e.id().value());
            }
            if (loc.keeps() >= 0) {
                refDelta.merge(loc.keeps(), -1L, Long::sum);
            }
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
        counterDelta.clear();
        refDelta.clear();
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
        byte[] raw = read(() -> records.get(id));
        if (raw == null) {
            return null;
        }
        try {
            return EntryCodec.decodeStored(raw);
        } catch (EntryCodec.DecodeException e) {
            return null;
        }
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
     * until it returns false; the iteration is a read of the index, the visitor is not.
     */
    private void visit(NavigableSet<String> range, int skip, Predicate<String> visitor) {
        java.util.Iterator<String> it = read(range::iterator);
        while (read(it::hasNext)) {
            String k = read(it::next);
            if (!visitor.test(k.substring(skip))) {
                return;
            }
        }
    }

    /** Visits ids in {@code state} in id order after {@code after} (null: from the start). */
    void stateIds(EntryState state, String after, Predicate<String> visitor) {
        String p = String.valueOf(letter(state));
        NavigableSet<String> range = after == null ? states.subSet(p, true, p + "~", false)
                : states.subSet(p + after, false, p + "~", false);
        visit(range, 1, visitor);
    }

    static String dueKey(QueueEntry e) {
        return dueKey(e.attempts() == 0, e.nextAttemptAt().toEpochMilli(), e.id().value());
    }

    static String dueKey(boolean fresh, long at, String id) {
        String hex = Long.toHexString(Math.max(0, at));
        return (fresh ? "F" : "R") + "0".repeat(Math.max(0, 12 - hex.length())) + hex + id;
    }

    private static String stateKey(EntryState s, String id) {
        return letter(s) + id;
    }

    private static char letter(EntryState s) {
        return (char) ('a' + s.ordinal());
    }

    private static boolean waiting(EntryState s) {
        return s == EntryState.QUEUED || s == EntryState.DEFERRED;
    }
}
