package relaybox.queue.mapdb;

import org.mapdb.DB;
import org.mapdb.DBException;
import org.mapdb.DBMaker;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.EntryState;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Owns opening the queue's store: the MapDB index, the spool, and bringing the two into step
 * ({@link Recovery}) before the queue takes any write. The spool's records the index had not
 * reached (accepts and the outcome journal) are replayed, entries left in SENDING are QUEUED
 * again, undecodable records, damaged spool ranges and entries without their message are
 * quarantined, and bytes no record refers to (never acknowledged) are deleted, unless damage was
 * seen. After a stop that was not clean the spool is cross-checked against the index in the
 * background once the open returns ({@link CrossCheck}): nothing in the spool is deleted until
 * it has run.
 *
 * <p>If the index itself cannot be opened or recovered (MapDB damaged by a crash or a bad disk),
 * it is moved aside as {@code queue.db.damaged-<time>} and rebuilt from the spool's records:
 * every acknowledged message still there is queued again, with the state its journal records
 * give it; a delivered message's record is dead and stays out. Records written before the
 * journal existed have no dead marks: those are sent again. Duplicates, never loss.
 */
final class StoreOpener {

    private static final Logger LOG = LoggerFactory.getLogger(MapDbQueue.class);

    private StoreOpener() {
    }

    static MapDbQueue open(Path dir, long minFreeSpace, RetrySchedule schedule, Clock clock,
                           SegmentCompactor.Settings compaction, long segmentSize) throws QueueException {
        Spool spool;
        try {
            PrivateFiles.directory(dir);
            spool = new Spool(dir.resolve("spool"), segmentSize);
        } catch (IOException e) {
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "cannot create queue directory " + dir
                    + ": " + e, e);
        }
        MapDbQueue q;
        if (IndexDamage.marked(dir) && IndexDamage.inUse(dir.resolve("queue.db"))) {
            spool.close();
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "queue store " + dir.resolve("queue.db")
                    + " is locked by another process (is the relaybox daemon running?)");
        }
        boolean crossCheck;
        try {
            // Before anything is written: from here on a crash must not look like a clean stop.
            crossCheck = !CleanStop.take(dir);
        } catch (IOException e) {
            spool.close();
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "cannot remove "
                    + dir.resolve(CleanStop.STAMP) + ": " + e, e);
        }
        try {
            if (IndexDamage.marked(dir) && Files.isRegularFile(dir.resolve("queue.db"))) {
                throw new QueueException(QueueException.Kind.STORAGE_ERROR, "the last run found it damaged ("
                        + IndexDamage.MARKER + ")");
            }
            q = openIndex(dir, spool, minFreeSpace, schedule, clock, false, crossCheck, compaction);
        } catch (QueueException e) {
            if (e.getCause() instanceof DBException.FileLocked || !Files.isRegularFile(dir.resolve("queue.db"))) {
                throw e;
            }
            LOG.error("queue index {} is damaged ({}); moving it aside and rebuilding it from the spool",
                    dir.resolve("queue.db"), e.getMessage());
            moveAside(dir, clock);
            // A fresh spool view too: the failed attempt may have counted references already.
            spool.close();
            try {
                spool = new Spool(dir.resolve("spool"), segmentSize);
            } catch (IOException io) {
                throw new QueueException(QueueException.Kind.STORAGE_ERROR, "cannot open the spool in " + dir
                        + ": " + io, io);
            }
            q = openIndex(dir, spool, minFreeSpace, schedule, clock, true, false, compaction);
        }
        try {
            // Whatever the marker said is settled: this index was opened or rebuilt whole.
            IndexDamage.clear(dir);
        } catch (IOException e) {
            LOG.warn("cannot remove {} ({}); the next start rebuilds the index again", dir.resolve(IndexDamage.MARKER),
                    e.toString());
        }
        q.startThreads();
        return q;
    }

    private static MapDbQueue openIndex(Path dir, Spool spool, long minFreeSpace, RetrySchedule schedule, Clock clock,
                                        boolean rebuilding, boolean crossCheck,
                                        SegmentCompactor.Settings compaction)
            throws QueueException {
        DB db;
        try {
            db = DBMaker.fileDB(dir.resolve("queue.db").toFile())
                    .transactionEnable()
                    // mmap, not FileChannel: the WAL wrote record headers one byte per pwrite and
                    // read B-tree nodes in 8- and 128-byte preads, 37 syscalls per indexed entry;
                    // on mmap the committer's share of the machine fell from 12% to 5%. With few
                    // commits of hundreds of entries each, the spike's slow per-commit msync does
                    // not matter. A full disk then faults (InternalError) inside a commit, which
                    // fails the commit like any other error (see IndexCommitter.commitBatch).
                    .fileMmapEnableIfSupported()
                    .make();
        } catch (DBException.FileLocked e) {
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "queue store " + dir.resolve("queue.db")
                    + " is locked by another process (is the relaybox daemon running?)", e);
        } catch (RuntimeException | Error e) {
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "cannot open queue store "
                    + dir.resolve("queue.db") + ": " + e, e);
        }
        try {
            MapDbQueue q = new MapDbQueue(db, spool, minFreeSpace, schedule, clock, compaction, dir);
            recover(q, dir, rebuilding, crossCheck);
            return q;
        } catch (IOException | RuntimeException | Error e) {
            try {
                db.close();
            } catch (RuntimeException | Error ignored) {
                // Already broken; the exception below says why.
            }
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "cannot recover queue store "
                    + dir.resolve("queue.db") + ": " + e, e);
        }
    }

    /** Keeps a damaged index for inspection, out of the way of the new one. */
    private static void moveAside(Path dir, Clock clock) throws QueueException {
        String suffix = ".damaged-" + clock.instant().toString().replace(':', '-');
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                String name = p.getFileName().toString();
                // The live index and its write-ahead logs only: an earlier rebuild's files
                // ("queue.db.wal.0.damaged-<time>") stay as they are. Moved again, each rebuild
                // added a suffix, until the name was too long and the queue could not open.
                if (name.equals("queue.db") || name.matches("queue\\.db\\.wal\\.\\d+")) {
                    Files.move(p, dir.resolve(name + suffix));
                }
            }
        } catch (IOException e) {
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "cannot move the damaged queue index aside in "
                    + dir + ": " + e, e);
        }
    }

    /**
     * Brings the index up to date with the spool (see {@link Recovery}). With indexes of this
     * version and every referenced spool segment and file present, nothing per entry is read:
     * the counts, the segment references and the large message files come from the index
     * itself, so a clean restart costs the same at any depth. Otherwise (an older store, spool
     * files missing, a rebuilt index) one walk over every entry re-indexes it. After a stop that
     * was not clean ({@code crossCheck}) an index damaged in a way MapDB cannot see (it keeps no
     * checksum of its nodes) may have lost an entry whose spool record is intact and live: every
     * segment is scanned from its start and such an entry is queued again. When the open walks
     * anyway, it does so at once; otherwise the {@link CrossCheck} does it in the background once
     * the queue is open, and until it has, nothing in the spool is deleted.
     */
    private static void recover(MapDbQueue q, Path dir, boolean rebuilding, boolean crossCheck) throws IOException {
        IndexStore index = q.view.index;
        Spool spool = q.spool;
        long started = System.nanoTime();
        boolean walk = rebuilding || !index.current() || !spoolWhole(index, spool);
        // The cross-check costs time in proportion to the depth: it runs after the open, in the
        // background (CrossCheck), unless the open walks every entry anyway and can rescue as it goes.
        boolean background = crossCheck && !walk;
        List<Long> segmentsAtOpen = spool.segmentNumbers();
        Recovery r = new Recovery(index, q.quarantines.raw, q.watermarks, spool, q.clock().instant());
        // A rebuilt index knew nothing of what the old one referred to: nothing is deleted.
        r.damageSeen = rebuilding;
        r.run(walk, crossCheck && walk);
        q.quarantines.atOpen.addAll(r.quarantined);
        index.markCurrent();
        q.db.commit();
        for (QueueId id : r.removedFiles) {
            // The removal is committed now: the file is nobody's (see Recovery#removedFiles).
            Files.deleteIfExists(spool.file(id));
        }
        if (r.replayed > 0) {
            LOG.warn("{} accepted messages were recovered from the spool (the index had not been written"
                    + " before the stop)", r.replayed);
        }
        // The segments' references are the index's persisted counts, replay included: a clean
        // open reads no entry to know which segments are still needed.
        index.segmentRefs.forEach(spool::reference);
        // Until the cross-check has run, an entry the index lost may still refer to any of them.
        spool.removeOrphans(r.ownFiles, r.damageSeen, background);
        // A segment's number comes back when an open finds no segment file at all (numbering
        // starts at 0 again) or the highest one was deleted: the old watermark of that number
        // would make the next recovery skip the new segment's first records, acknowledged mail.
        // Watermarks of segments that are gone are dropped before anything is appended.
        Set<Long> present = new HashSet<>(spool.segmentNumbers());
        List<Long> gone = q.watermarks.keySet().stream().filter(seg -> !present.contains(seg)).toList();
        if (!gone.isEmpty()) {
            gone.forEach(q.watermarks::remove);
            q.db.commit();
        }
        spool.sync();
        Map<EntryState, Long> counts = index.counts();
        q.opened(counts);
        if (background) {
            CrossCheck check = new CrossCheck(q, q.workers.committer, segmentsAtOpen, dir);
            check.damageSeen = r.damageSeen;
            q.workers.crossCheck = check;
        }
        // Last: the segments present are held for the check by now, and a number that comes
        // back has lost its old watermark (above).
        spool.startAppending();
        LOG.info("queue opened: {} entries, {} quarantined at open{}{} in {} ms",
                counts.values().stream().mapToLong(x -> x).sum(), q.quarantines.atOpen.size(),
                walk ? " (index rebuilt by a walk over every entry)" : "",
                !crossCheck ? "" : background ? " (not stopped cleanly: the spool is cross-checked against the index"
                        + " in the background)" : " (not stopped cleanly: spool cross-checked against the index)",
                (System.nanoTime() - started) / 1_000_000);
    }

    /** Whether every segment and file the index refers to is there, as long as the index says. */
    private static boolean spoolWhole(IndexStore index, Spool spool) throws IOException {
        for (Map.Entry<Long, Long> s : index.segmentRefs.entrySet()) {
            long end = index.segmentEnds.getOrDefault(s.getKey(), 0L);
            if (!spool.intact(null, new SpoolLocation(s.getKey(), 0, end))) {
                return false;
            }
        }
        for (String id : index.files) {
            EntryCodec.Stored st = index.get(id);
            if (st == null || !spool.intact(st.entry().id(), st.location())) {
                return false;
            }
        }
        return true;
    }
}
