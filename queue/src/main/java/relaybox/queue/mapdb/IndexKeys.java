package relaybox.queue.mapdb;

import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;

/**
 * Owns the string formats of the index's keys, chosen so that MapDB's string order is the order
 * the queue reads them in: due keys {@code F|R} + 12 hex digits of due time in ms + id
 * ({@code F}: never tried, so fresh mail goes before retries due at the same time), state keys one
 * letter per state + id, and moved-record keys segment and record start as 16 hex digits each.
 */
final class IndexKeys {

    private IndexKeys() {
    }

    static String dueKey(QueueEntry e) {
        return dueKey(e.attempts() == 0, e.nextAttemptAt().toEpochMilli(), e.id().value());
    }

    static String dueKey(boolean fresh, long at, String id) {
        String hex = Long.toHexString(Math.max(0, at));
        return (fresh ? "F" : "R") + "0".repeat(Math.max(0, 12 - hex.length())) + hex + id;
    }

    static String stateKey(EntryState s, String id) {
        return letter(s) + id;
    }

    static char letter(EntryState s) {
        return (char) ('a' + s.ordinal());
    }

    /** Whether entries in {@code s} are in the due index (the dispatcher may lease them). */
    static boolean waiting(EntryState s) {
        return s == EntryState.QUEUED || s == EntryState.DEFERRED;
    }

    static String movedKey(long segment, long start) {
        return String.format("%016x%016x", segment, start);
    }

    /** The segment and record start a {@link #movedKey} was made of. */
    static long[] movedRecord(String key) {
        return new long[] {Long.parseUnsignedLong(key.substring(0, 16), 16), Long.parseUnsignedLong(key.substring(16), 16)};
    }
}
