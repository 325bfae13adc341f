package relaybox.queue.mapdb;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Owns what the spool has written but not yet fsynced (appended segments and where their
 * appends end, dead marks, new directory entries) and {@link #sync}, which makes it durable and
 * records how far each segment was synced ({@link SyncedLengths}). Appends report here under the
 * spool's lock; dead marks without it.
 */
final class UnsyncedWrites {

    private final Spool spool;
    private final Path dir;
    /** How far each segment was synced, for recovery to tell damage from a torn write. */
    final SyncedLengths synced;
    /** Per segment appended to since its last sync, where its appends end. */
    private final Map<Long, Long> appendEnds = new HashMap<>();
    private final Set<Long> unsynced = new HashSet<>();
    /** Segments with dead marks not yet synced; written without the spool's lock. */
    private final Set<Long> unsyncedMarks = ConcurrentHashMap.newKeySet();
    private boolean directoryDirty;
    /** Held for a whole {@link #sync}, so a second caller returns only after the first's fsync. */
    private final Object syncLock = new Object();
    /** Tests only: called just before a segment is forced; what it throws, the force throws. */
    volatile ForceHook beforeForce = n -> { };

    /** See {@link #beforeForce}. */
    interface ForceHook {
        void before(long segment) throws IOException;
    }

    UnsyncedWrites(Spool spool, Path dir) throws IOException {
        this.spool = spool;
        this.dir = dir;
        this.synced = new SyncedLengths(dir.resolveSibling(dir.getFileName() + ".synced"));
    }

    /** An append to segment {@code n} ended at {@code end} (caller holds the spool's lock). */
    void appended(long n, long end) {
        appendEnds.put(n, end);
        unsynced.add(n);
    }

    /** A dead mark was written in segment {@code n}. */
    void marked(long n) {
        unsyncedMarks.add(n);
    }

    /** A new file's directory entry must be synced (caller holds the spool's lock). */
    void directoryChanged() {
        directoryDirty = true;
    }

    /** Whether anything written is waiting for {@link #sync} (caller holds the spool's lock). */
    boolean pending() {
        return !unsynced.isEmpty() || !unsyncedMarks.isEmpty() || directoryDirty;
    }

    /**
     * Makes every appended byte, dead mark and new directory entry durable: one call for all
     * waiting accepts. Concurrent callers are serialised, so none returns before the bytes it
     * appended are synced, whichever caller took them.
     */
    void sync() throws IOException {
        synchronized (syncLock) {
            Set<Long> toSync;
            boolean dirty;
            Map<Long, Long> ends;
            synchronized (spool) {
                toSync = new HashSet<>(unsynced);
                unsynced.clear();
                ends = new HashMap<>(appendEnds);
                appendEnds.clear();
                for (Iterator<Long> it = unsyncedMarks.iterator(); it.hasNext(); ) {
                    toSync.add(it.next());
                    it.remove();
                }
                dirty = directoryDirty;
                directoryDirty = false;
            }
            try {
                for (long s : toSync) {
                    // Pinned while it is forced: a segment that goes meanwhile (its last entry's
                    // removal committed, its dead mark among the writes synced here) keeps its
                    // channel open until the force is done. Unpinned, the committer closed the
                    // channel under the force, whose ClosedChannelException failed the store
                    // and refused every accept until a restart. A segment already gone is
                    // skipped: nothing in it is needed any more.
                    if (!spool.pin(s)) {
                        continue;
                    }
                    try {
                        FileChannel ch = spool.channel(s);
                        if (ch != null) {
                            beforeForce.before(s);
                            ch.force(false);
                        }
                    } finally {
                        spool.unpin(s);
                    }
                }
                if (dirty) {
                    try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                        d.force(true);
                    }
                }
            } catch (IOException e) {
                synchronized (spool) {
                    unsynced.addAll(toSync);
                    ends.forEach((n, end) -> appendEnds.merge(n, end, Math::max));
                    directoryDirty |= dirty;
                }
                throw e;
            }
            // After the fsync, before the accepts it covers are acknowledged.
            for (Map.Entry<Long, Long> e : ends.entrySet()) {
                synced.write(e.getKey(), e.getValue());
            }
        }
    }
}
