package relaybox.queue.mapdb;

import java.util.HashMap;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

/**
 * Owns what keeps a spool segment alive: how many entries refer to message bytes in it, and
 * which of its records (ACCEPT, UPDATE, REMOVE) have not reached a committed index write yet.
 * A segment may be deleted only when both are gone and it is not being appended to. Not thread
 * safe: the {@link Spool} calls it under its own lock.
 */
final class SegmentReferences {

    private final Map<Long, Integer> references = new HashMap<>();
    /** Per segment, the start offsets of records appended but not yet in a committed index write. */
    private final Map<Long, TreeSet<Long>> unindexed = new HashMap<>();

    void reference(long segment) {
        references.merge(segment, 1, Integer::sum);
    }

    /** Counts {@code count} references at once: at open, from the index's persisted counts. */
    void reference(long segment, long count) {
        if (count > 0) {
            references.merge(segment, (int) count, Integer::sum);
        }
    }

    /** Moves the count by {@code delta}, either way: a recount found it wrong. */
    void adjust(long segment, long delta) {
        int left = references.merge(segment, (int) delta, Integer::sum);
        if (left <= 0) {
            references.remove(segment);
        }
    }

    /** Drops one reference; returns how many are left. */
    int release(long segment) {
        int left = references.merge(segment, -1, Integer::sum);
        if (left <= 0) {
            references.remove(segment);
        }
        return left;
    }

    boolean referenced(long segment) {
        return references.getOrDefault(segment, 0) > 0;
    }

    /** Whether anything (an entry, an unindexed record) keeps the segment. */
    boolean kept(long segment) {
        return referenced(segment) || unindexed.containsKey(segment);
    }

    void appended(long segment, long start) {
        unindexed.computeIfAbsent(segment, k -> new TreeSet<>()).add(start);
    }

    void indexed(long segment, Set<Long> starts) {
        TreeSet<Long> open = unindexed.get(segment);
        if (open != null) {
            open.removeAll(starts);
            if (open.isEmpty()) {
                unindexed.remove(segment);
            }
        }
    }

    /** No record of the segment is waiting for the index. */
    boolean allIndexed(long segment) {
        TreeSet<Long> open = unindexed.get(segment);
        return open == null || open.isEmpty();
    }

    /**
     * The first record of {@code segment} not indexed once {@code committing} are, or -1 when
     * every record will be.
     */
    long firstUnindexed(long segment, Set<Long> committing) {
        TreeSet<Long> open = unindexed.get(segment);
        if (open != null) {
            for (long start : open) {
                if (!committing.contains(start)) {
                    return start;
                }
            }
        }
        return -1;
    }

    /** The first unindexed record of the segment, or 0. */
    long firstUnindexed(long segment) {
        TreeSet<Long> open = unindexed.get(segment);
        return open == null || open.isEmpty() ? 0 : open.first();
    }
}
