package relaybox.queue.mapdb;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Owns the spool's open segment channels: opening one on first use, keeping a deleted segment's
 * channel open while a message is still being read from it (pinned), and closing them. Changes
 * to the open set happen under the spool's lock; reads of it take none.
 */
final class SegmentChannels {

    private final Spool spool;
    /** Open segments; changed under the spool's lock, read without it by dead marks and reads. */
    private final Map<Long, FileChannel> segments = new ConcurrentHashMap<>();
    /** Per segment, messages being opened from it: its channel stays open until the last is read. */
    private final Map<Long, Integer> readers = new HashMap<>();
    /** Channels of deleted segments that readers still hold. */
    private final Map<Long, FileChannel> retired = new ConcurrentHashMap<>();
    /**
     * Guards {@link #readers}, and a segment's channel moving out of {@link #segments}: not the
     * spool's lock, which the preparer holds while it writes zeros, and a send need not wait for
     * that. Taken after the spool's lock, never before it.
     */
    private final Object pinLock = new Object();
    /** Set by {@link #closeAll}; guarded by the spool's lock. */
    private boolean closed;
    /**
     * Segments being deleted: their file goes after the spool's lock is released, and a dead
     * mark or sync that looked in between reopened it, keeping a deleted 64 MiB file's blocks
     * (and a descriptor) until the process ended. Numbers are not used again while it runs.
     */
    private final java.util.Set<Long> gone = ConcurrentHashMap.newKeySet();

    SegmentChannels(Spool spool) {
        this.spool = spool;
    }

    /** The open channel of segment {@code n}, or null (no opening). */
    FileChannel open(long n) {
        return segments.get(n);
    }

    /** A segment just created (caller holds the spool's lock). */
    void created(long n, FileChannel ch) {
        segments.put(n, ch);
    }

    /** The channel of segment {@code n}, opened if need be; null when the file is gone. */
    FileChannel channel(long n) throws IOException {
        // Without the lock when the segment is open: the preparer holds the lock while it writes
        // zeros, and a send or a dead mark has no reason to wait for that.
        FileChannel ch = segments.get(n);
        return ch != null ? ch : openChannel(n);
    }

    private FileChannel openChannel(long n) throws IOException {
        synchronized (spool) {
            FileChannel ch = segments.get(n);
            if (ch == null) {
                ch = retired.get(n);
            }
            // After close nothing is written: a dead mark or journal record of a late outcome
            // would otherwise reopen the segment and land after the queue's last sync (after a
            // test's kill, a write no killed process could make). Nor is a segment being
            // deleted opened again (see gone).
            if (ch == null && !closed && !gone.contains(n) && Files.exists(spool.segment(n))) {
                ch = FileChannel.open(spool.segment(n), StandardOpenOption.READ, StandardOpenOption.WRITE);
                segments.put(n, ch);
            }
            return ch;
        }
    }

    /** Counts a reader of segment {@code n} until {@link #unpin}; false when the segment is gone. */
    boolean pin(long n) throws IOException {
        if (channel(n) == null) {
            return false;
        }
        synchronized (pinLock) {
            if (!segments.containsKey(n) && !retired.containsKey(n)) {
                // Deleted since it was opened above.
                return false;
            }
            readers.merge(n, 1, Integer::sum);
            return true;
        }
    }

    void unpin(long n) {
        FileChannel ch;
        synchronized (pinLock) {
            if (readers.merge(n, -1, Integer::sum) > 0) {
                return;
            }
            readers.remove(n);
            ch = retired.remove(n);
        }
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // The file is already deleted; closing frees its blocks.
            }
        }
    }

    /** Closes the channel of a segment being deleted, or keeps it for its readers (see {@link #unpin}). */
    void close(long n) {
        gone.add(n);
        FileChannel ch;
        synchronized (pinLock) {
            ch = segments.remove(n);
            if (ch != null && readers.getOrDefault(n, 0) > 0) {
                // A message is being read from it: the file goes now, its bytes stay readable
                // through the open channel until the last reader is done (see unpin).
                retired.put(n, ch);
                return;
            }
        }
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // The file is deleted next; nothing in it is referenced.
            }
        }
    }

    /** Whether {@link #closeAll} ran: no channel is opened again. Guarded by the spool's lock. */
    boolean closed() {
        return closed;
    }

    void closeAll() {
        synchronized (spool) {
            closed = true;
            segments.putAll(retired);
            retired.clear();
            for (FileChannel ch : segments.values()) {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // Closing a read/append channel loses nothing: every byte that matters was synced.
                }
            }
            segments.clear();
        }
    }
}
