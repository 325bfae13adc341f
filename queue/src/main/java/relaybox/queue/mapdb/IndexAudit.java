package relaybox.queue.mapdb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.util.ArrayList;
import java.util.EnumMap;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Predicate;

/**
 * Owns the cross-check's audit of the index after an unclean stop ({@link CrossCheck}): a walk
 * over every entry that puts back the due, state and file keys it lacks and tallies the counts,
 * segment references, segment ends and live bytes the entries make; sweeps over the due, state
 * and file sets that take out keys no entry stands for, and report a key that a lookup does not
 * find (a tree damaged out of order, which MapDB's own operations step over: the index is
 * rebuilt from the spool at the next start); and a last step that writes the tally over the
 * persisted counts. It adds what is missing and never clears an index that dispatch is reading.
 *
 * <p>Every step runs on the committer's thread ({@link IndexOp.Step}), between its writes: the
 * index keeps one writer, and each change the committer makes to an entry the walk has passed
 * reaches the tally ({@link #changed}), so the tally is exact when the walk ends although the
 * queue ran all along. Not thread safe apart from {@link #removedFiles}.
 */
final class IndexAudit {

    private static final Logger LOG = LoggerFactory.getLogger(MapDbQueue.class);
    /** Keys per step: a few tens of milliseconds of the committer's time. */
    static final int STEP = 2_000;
    /** Repairs logged one by one up to this many; the rest are counted in the check's last line. */
    private static final int LOGGED = 20;

    /** What the last step found wrong with the persisted counts, for the queue's memory of them. */
    record Correction(Map<EntryState, Long> counts, Map<Long, Long> references) { }

    private enum Pass { ENTRIES, DUE, STATES, FILES, DONE }

    private final IndexStore index;
    /** Ids of large messages removed since the open: gone, although their record has no dead mark. */
    final Set<String> removedFiles = ConcurrentHashMap.newKeySet();
    private final long[] counts = new long[EntryState.values().length];
    private final Map<Long, Long> refs = new HashMap<>();
    private final Map<Long, Long> live = new HashMap<>();
    private final Map<Long, Long> ends = new HashMap<>();
    private Pass pass = Pass.ENTRIES;
    /** The last key the current pass has passed; null before its first. */
    private String cursor;
    long entries;
    long putBack;
    long strays;
    /** Whether the last step changed the index (its commit is skipped otherwise). */
    private boolean wrote;

    IndexAudit(IndexStore index) {
        this.index = index;
    }

    /** One bounded step of the walk or a sweep; false once everything has been passed. */
    boolean step() {
        wrote = false;
        boolean more = switch (pass) {
            case ENTRIES -> walk();
            case DUE -> sweep(index.due, "due", this::dueStands);
            case STATES -> sweep(index.states, "state", this::stateStands);
            case FILES -> sweep(index.files, "file", this::fileStands);
            case DONE -> false;
        };
        if (!more && pass != Pass.DONE) {
            pass = Pass.values()[pass.ordinal() + 1];
            cursor = null;
        }
        return pass != Pass.DONE;
    }

    /** Called by {@link IndexStore#apply} for every change of an entry while the audit runs. */
    void changed(String key, EntryCodec.Stored old, QueueEntry next, SpoolLocation loc) {
        if (next == null && old != null && old.location().inFile()) {
            removedFiles.add(key);
        }
        if (pass == Pass.ENTRIES && (cursor == null || key.compareTo(cursor) > 0)) {
            return;
        }
        if (old != null) {
            count(old.entry(), old.location(), -1);
        }
        if (next != null) {
            count(next, loc, 1);
        }
    }

    /** Called by {@link IndexStore#relocate}: a compaction moved an entry's bytes. */
    void moved(EntryCodec.Stored old, SpoolLocation to) {
        String key = old.entry().id().value();
        if (pass == Pass.ENTRIES && (cursor == null || key.compareTo(cursor) > 0)) {
            return;
        }
        count(old.entry(), old.location(), -1);
        count(old.entry(), to, 1);
    }

    private void count(QueueEntry e, SpoolLocation loc, int sign) {
        counts[e.state().ordinal()] += sign;
        long seg = loc.keeps();
        if (seg >= 0) {
            refs.merge(seg, (long) sign, Long::sum);
            live.merge(seg, sign * IndexStore.liveBytes(loc), Long::sum);
        }
        if (sign > 0 && !loc.inFile()) {
            ends.merge(loc.segment(), loc.offset() + loc.length(), Math::max);
        }
    }

    private boolean walk() {
        NavigableSet<String> keys = cursor == null ? index.records.navigableKeySet()
                : index.records.tailMap(cursor, false).navigableKeySet();
        Iterator<String> it = keys.iterator();
        int n = 0;
        while (n < STEP && it.hasNext()) {
            String key = it.next();
            // get() itself reports a key that holds another key's entry.
            EntryCodec.Stored st = index.get(key);
            if (st == null) {
                throw index.damaged(new IllegalStateException("index entry " + key
                        + " is in its tree but a lookup does not find it"));
            }
            putBack(st);
            count(st.entry(), st.location(), 1);
            cursor = key;
            entries++;
            n++;
        }
        return n == STEP;
    }

    /** Puts back the keys an entry's record calls for that its indexes lack. */
    private void putBack(EntryCodec.Stored st) {
        QueueEntry e = st.entry();
        String id = e.id().value();
        List<String> what = new ArrayList<>(3);
        if (IndexKeys.waiting(e.state()) && putBack(index.due, IndexKeys.dueKey(e))) {
            what.add("due");
        }
        if (putBack(index.states, IndexKeys.stateKey(e.state(), id))) {
            what.add("state");
        }
        if (st.location().inFile() && putBack(index.files, id)) {
            what.add("file");
        }
        if (!what.isEmpty() && ++putBack <= LOGGED) {
            LOG.warn("{}: its {} key was missing from the index (damage MapDB did not see); put back", id,
                    String.join(" and ", what));
        }
    }

    /** Whether the last step changed the index. */
    boolean wrote() {
        return wrote;
    }

    /** Adds {@code key} if a lookup does not find it (a plain add would rewrite every key it finds). */
    private boolean putBack(NavigableSet<String> set, String key) {
        if (set.contains(key)) {
            return false;
        }
        wrote = true;
        return set.add(key);
    }

    /**
     * Passes up to {@link #STEP} keys of one set: a key a lookup does not find is damage; a key
     * no entry stands for is taken out.
     */
    private boolean sweep(NavigableSet<String> set, String what, Predicate<String> stands) {
        Iterator<String> it = (cursor == null ? set : set.tailSet(cursor, false)).iterator();
        List<String> stray = new ArrayList<>();
        int n = 0;
        while (n < STEP && it.hasNext()) {
            String k = it.next();
            if (!set.contains(k)) {
                throw index.damaged(new IllegalStateException("the " + what + " index holds key " + k
                        + " where a lookup does not find it"));
            }
            if (!stands.test(k)) {
                stray.add(k);
            }
            cursor = k;
            n++;
        }
        for (String k : stray) {
            wrote = true;
            set.remove(k);
            if (++strays <= LOGGED) {
                LOG.warn("{} index key {} stood for no entry (damage MapDB did not see); taken out", what, k);
            }
        }
        return n == STEP;
    }

    private boolean dueStands(String k) {
        EntryCodec.Stored st = entry(k, 13);
        return st != null && IndexKeys.waiting(st.entry().state()) && IndexKeys.dueKey(st.entry()).equals(k);
    }

    private boolean stateStands(String k) {
        EntryCodec.Stored st = entry(k, 1);
        return st != null && IndexKeys.stateKey(st.entry().state(), st.entry().id().value()).equals(k);
    }

    private boolean fileStands(String k) {
        EntryCodec.Stored st = entry(k, 0);
        return st != null && st.location().inFile();
    }

    /** The entry a key names after its first {@code skip} characters; a key naming no queue id is damage. */
    private EntryCodec.Stored entry(String k, int skip) {
        String id = k.substring(Math.min(skip, k.length()));
        if (!QueueId.isValid(id)) {
            throw index.damaged(new IllegalStateException("index key names no queue id: " + k));
        }
        return index.get(id);
    }

    /**
     * The last step, once every entry is passed: the persisted counts, segment references, ends
     * and live bytes become the tally; returns what changed, and stops listening to changes.
     */
    Correction finish() {
        wrote = true;
        index.flush();
        Map<EntryState, Long> countDiff = new EnumMap<>(EntryState.class);
        for (EntryState s : EntryState.values()) {
            long have = index.counters.getOrDefault(s.name(), 0L);
            long want = counts[s.ordinal()];
            if (have != want) {
                index.counters.put(s.name(), want);
                countDiff.put(s, want - have);
            }
        }
        Map<Long, Long> refDiff = new HashMap<>();
        Set<Long> segments = new HashSet<>(index.segmentRefs.keySet());
        segments.addAll(refs.keySet());
        for (long seg : segments) {
            long have = index.segmentRefs.getOrDefault(seg, 0L);
            long want = Math.max(0, refs.getOrDefault(seg, 0L));
            if (have != want) {
                refDiff.put(seg, want - have);
            }
            if (want > 0) {
                index.segmentRefs.put(seg, want);
                long l = live.getOrDefault(seg, 0L);
                if (l > 0) {
                    index.segmentLive.put(seg, l);
                } else {
                    index.segmentLive.remove(seg);
                }
                Long end = ends.get(seg);
                if (end != null) {
                    index.segmentEnds.put(seg, end);
                }
            } else {
                index.segmentRefs.remove(seg);
                index.segmentLive.remove(seg);
                index.segmentEnds.remove(seg);
            }
        }
        index.audit = null;
        return new Correction(countDiff, refDiff);
    }
}
