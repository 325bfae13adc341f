package relaybox.queue.mapdb;

import java.io.IOException;
import java.nio.file.Files;
import java.util.HashMap;
import java.util.Map;
import java.util.Set;

/**
 * Owns when a spool segment may go: which segments are no longer appended to and since when, and
 * deleting one once nothing refers to it and every record in it has reached the index. Split out
 * of {@link Spool}, whose lock it takes (or whose callers hold it): the current segment and the
 * references it decides on change under that lock. Files are deleted outside the lock, as a
 * deleted segment is already forgotten and its channel closed.
 */
final class SegmentLifetimes {

    private final Spool spool;
    private final SegmentReferences refs;
    private final SegmentChannels channels;
    /** Per segment no longer appended to, since when (System.nanoTime; at open for recovered ones). */
    private final Map<Long, Long> closedAt = new HashMap<>();
    /**
     * While the cross-check after an unclean stop runs: no segment is deleted and none offered
     * for compaction, since the reference counts that would let it go are still in doubt.
     */
    private boolean held;

    SegmentLifetimes(Spool spool, SegmentReferences refs, SegmentChannels channels) {
        this.spool = spool;
        this.refs = refs;
        this.channels = channels;
    }

    /** See {@link Spool#releaseRecord}. */
    void releaseRecord(SpoolLocation loc) throws IOException {
        long n = loc.keeps();
        if (n < 0) {
            return;
        }
        synchronized (spool) {
            if (refs.release(n) > 0 || held || !deletable(n)) {
                return;
            }
            forget(n);
            closeSegment(n);
        }
        Files.deleteIfExists(spool.segment(n));
    }

    /** Segments found at open: their age counts from the open, as when they were last appended to is not known. */
    void recovered(Iterable<Long> segments, long now) {
        for (long n : segments) {
            closedAt.put(n, now);
        }
    }

    /** Segment {@code old} is no longer appended to (caller holds the spool's lock); deleted if nothing needs it. */
    void closed(long old) throws IOException {
        closedAt.put(old, System.nanoTime());
        if (!held && !refs.referenced(old) && deletable(old)) {
            forget(old);
            closeSegment(old);
            Files.deleteIfExists(spool.segment(old));
        }
    }

    /** See {@link Spool#watermark}; caller holds the spool's lock. */
    long watermark(long n, Set<Long> committing) {
        long first = refs.firstUnindexed(n, committing);
        if (first >= 0) {
            return first;
        }
        if (n == spool.currentSegment()) {
            return spool.currentSize();
        }
        try {
            return Files.size(spool.segment(n));
        } catch (IOException e) {
            return refs.firstUnindexed(n);
        }
    }

    /** See {@link Spool#indexed}. */
    void indexed(long n, Set<Long> starts) throws IOException {
        synchronized (spool) {
            refs.indexed(n, starts);
            if (refs.referenced(n) || held || !deletable(n)) {
                return;
            }
            forget(n);
            closeSegment(n);
        }
        Files.deleteIfExists(spool.segment(n));
    }

    /** See {@link Spool#closedSegments}; caller holds the spool's lock. */
    Map<Long, Long> closedSegments() {
        Map<Long, Long> out = new HashMap<>();
        if (held) {
            return out;
        }
        long current = spool.currentSegment();
        closedAt.forEach((n, at) -> {
            if (n != current && refs.allIndexed(n) && refs.referenced(n)) {
                out.put(n, at);
            }
        });
        return out;
    }

    /** From now until {@link #release}, no segment goes (caller holds the spool's lock). */
    void hold() {
        held = true;
    }

    /**
     * Ends the hold; with {@code sweep}, every segment that could have gone meanwhile goes now.
     * Returns those, for the caller to delete outside the spool's lock.
     */
    java.util.List<Long> release(boolean sweep) {
        java.util.List<Long> gone = new java.util.ArrayList<>();
        synchronized (spool) {
            held = false;
            for (long n : sweep ? java.util.List.copyOf(closedAt.keySet()) : java.util.List.<Long>of()) {
                if (!refs.referenced(n) && deletable(n)) {
                    forget(n);
                    closeSegment(n);
                    gone.add(n);
                }
            }
        }
        return gone;
    }

    /** Drops what is known of a segment that is being deleted (caller holds the spool's lock). */
    private void forget(long n) {
        closedAt.remove(n);
    }

    private void closeSegment(long n) {
        channels.close(n);
    }

    /**
     * A segment may go once it is not being appended to and every record in it has reached the
     * index: before that, its records are the only durable copy of accepted mail and outcomes.
     */
    private boolean deletable(long n) {
        return n != spool.currentSegment() && refs.allIndexed(n);
    }
}
