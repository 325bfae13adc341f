package relaybox.queue.mapdb;

import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.atomic.AtomicLong;

import static relaybox.queue.mapdb.StorageErrors.storageError;

/**
 * Owns committing one batch of {@link IndexOp}s to MapDB: only each entry's last write of the
 * batch reaches the maps, each segment's watermark moves past the records the commit covers,
 * the spool's journal is synced no later than the index it is replayed into, and after the
 * commit the spool releases what it removed. Called by the {@link IndexCommitter}'s thread only.
 */
final class IndexBatch {

    private static final Logger LOG = LoggerFactory.getLogger(IndexCommitter.class);

    private final MapDbQueue queue;
    private final DB db;
    private final IndexStore index;
    private final IndexView view;
    private final Spool spool;
    private final BTreeMap<Long, Long> watermarks;
    long lastCommitNanos;
    /** Moved records marked dead since the last commit: dropped from {@link IndexStore#moved} by the next. */
    private final List<String> markedMoves = new ArrayList<>();
    final AtomicLong commits = new AtomicLong();
    private final AtomicLong committedOps = new AtomicLong();
    /** Writes that never reached MapDB because a later write in the same batch replaced them. */
    private final AtomicLong coalesced = new AtomicLong();
    private final AtomicLong commitNanos = new AtomicLong();

    IndexBatch(MapDbQueue queue, DB db, IndexView view, Spool spool, BTreeMap<Long, Long> watermarks) {
        this.queue = queue;
        this.db = db;
        this.index = view.index;
        this.view = view;
        this.spool = spool;
        this.watermarks = watermarks;
    }

    /** A message whose entry the batch removed: its bytes go once the removal is committed. */
    private record Release(QueueId id, SpoolLocation location) { }

    /** One group commit: every op waiting shares one spool-directory fsync and one MapDB commit. */
    void commit(List<IndexOp> batch) {
        List<CompletableFuture<Void>> done = new ArrayList<>();
        List<Release> released = new ArrayList<>();
        Map<Long, Set<Long>> newRecords = new HashMap<>();
        List<IndexOp.Relocate> relocations = new ArrayList<>();
        List<Boolean> relocated = new ArrayList<>();
        List<IndexOp.Step> steps = new ArrayList<>();
        List<Object> stepResults = new ArrayList<>();
        if (!queue.health.storeHealthy()) {
            // Told and logged once, when it failed; the owner is stopping.
            QueueException qe = storageError("queue store failed earlier; the next start recovers it", null);
            for (IndexOp op : batch) {
                IndexOp.fail(op, qe);
            }
            return;
        }
        try {
            // Only each entry's last write in the batch reaches MapDB: a message accepted and
            // delivered within one batch costs no index write at all, only the watermark that
            // moves past its spool record.
            Map<QueueId, IndexOp> last = new LinkedHashMap<>();
            Map<QueueId, SpoolLocation> createdHere = new HashMap<>();
            for (IndexOp op : batch) {
                if (op instanceof IndexOp.Put p) {
                    if (p.recordStart() >= 0) {
                        // Counted for the watermark even if dropped below: otherwise the segment
                        // would be scanned from this record at every open.
                        newRecords.computeIfAbsent(p.segment(), k -> new HashSet<>()).add(p.recordStart());
                    }
                    if (p.location() != null) {
                        createdHere.put(p.entry().id(), p.location());
                    }
                    if (!(last.get(p.entry().id()) instanceof IndexOp.Remove)) {
                        // After a removal (ids are never reused) a write is stale: see apply().
                        last.put(p.entry().id(), p);
                    }
                    done.add(p.done());
                } else if (op instanceof IndexOp.Remove r) {
                    if (r.recordStart() >= 0) {
                        newRecords.computeIfAbsent(r.segment(), k -> new HashSet<>()).add(r.recordStart());
                    }
                    last.put(r.entry().id(), r);
                    done.add(r.done());
                } else if (op instanceof IndexOp.Relocate m) {
                    newRecords.computeIfAbsent(m.to().segment(), k -> new HashSet<>()).add(m.to().recordStart());
                    relocations.add(m);
                } else if (op instanceof IndexOp.Step st) {
                    steps.add(st);
                }
            }
            if (done.isEmpty() && relocations.isEmpty() && steps.isEmpty()) {
                return;
            }
            int writes = 0;
            // The whole batch under one hold of the lock: taken per entry, a lease refill reading
            // the due index between them slowed the committer down during a drain until its
            // backlog (and the overlay) outgrew a 64 MiB heap (QueueDepthTest). The maps answer
            // for the writes from here on (MapDB reads see the open transaction).
            view.indexLock.writeLock().lock();
            try {
                // Moves first: a later write of the same entry in this batch keeps the location
                // the index has, which is then the copy's.
                for (IndexOp.Relocate m : relocations) {
                    EntryCodec.Stored old = createdHere.containsKey(m.id()) ? null : index.get(m.id().value());
                    boolean ok = old != null && old.location().equals(m.from());
                    if (ok) {
                        index.relocate(old, m.to().location(), m.fromStart());
                    }
                    relocated.add(ok);
                }
                for (Map.Entry<QueueId, IndexOp> w : last.entrySet()) {
                    queue.hooks.indexCommit.accept("applying");
                    writes += apply(w.getKey(), w.getValue(), createdHere, released);
                }
            } finally {
                view.indexLock.writeLock().unlock();
            }
            // After the batch's own writes, so a step sees the index as this commit leaves it, and
            // outside the lock: a step reads thousands of entries, and a lease refill need not wait
            // for that (the keys a step puts back or takes out are each one write, and the overlay
            // still wins over them).
            boolean stepsWrote = false;
            for (IndexOp.Step st : steps) {
                stepResults.add(step(st));
                stepsWrote |= st.wrote().getAsBoolean();
            }
            if (done.isEmpty() && relocations.isEmpty() && !stepsWrote) {
                // Only steps, and they changed nothing: no commit to make.
                completeSteps(steps, stepResults);
                return;
            }
            queue.hooks.indexCommit.accept("applied");
            index.flush();
            for (Map.Entry<Long, Set<Long>> w : newRecords.entrySet()) {
                watermarks.put(w.getKey(), spool.watermark(w.getKey(), w.getValue()));
            }
            queue.hooks.indexCommit.accept("watermarked");
            coalesced.addAndGet(done.size() - writes);
            long started = System.nanoTime();
            if (!markedMoves.isEmpty()) {
                // Their dead marks were written after the last commit; synced below, they need
                // no remembering.
                markedMoves.forEach(index.moved::remove);
            }
            if (spool.syncPending() || !markedMoves.isEmpty()) {
                // Journal records and dead marks are made durable no later than the index that
                // they are replayed into: after a power loss the spool never knows less than the
                // index about what was delivered. (Usually the spool-sync thread got there first;
                // a sync it has in hand is waited for.)
                spool.sync();
            }
            queue.hooks.indexCommit.accept("synced");
            db.commit();
            queue.hooks.indexCommit.accept("committed");
            // Applied writes leave the overlay only now, after db.commit(): MapDB holds its locks
            // through the commit's fsync, and an outcome's journal write that looked up a location
            // the overlay no longer had waited for the whole commit (17-97 ms), widening the
            // window in which a kill costs a duplicate (RELIABILITY.md, crash loop). Each op's
            // own staged value goes if it is still the latest (a later write keeps its own).
            for (IndexOp.Relocate m : relocations) {
                view.overlay.remove(m.id(), m.staged());
            }
            for (IndexOp op : batch) {
                if (op instanceof IndexOp.Put || op instanceof IndexOp.Remove) {
                    view.overlay.remove(IndexOp.id(op), IndexOp.staged(op));
                }
            }
            view.cleared();
            markedMoves.clear();
            queue.hooks.compaction.accept("committed");
            lastCommitNanos = System.nanoTime();
            for (Map.Entry<Long, Set<Long>> w : newRecords.entrySet()) {
                spool.indexed(w.getKey(), w.getValue());
            }
            commits.incrementAndGet();
            committedOps.addAndGet(done.size());
            commitNanos.addAndGet(System.nanoTime() - started);
        } catch (IOException | RuntimeException | Error e) {
            // MapDB cannot be trusted after a failed commit (it damaged itself on ENOSPC in
            // every spike run), so stop writing: callers get errors, nothing acknowledged is
            // touched on disk, and the next open recovers from the last good commit.
            queue.health.storeFailed();
            LOG.error("queue commit failed; the queue takes no more writes, and the next start recovers it", e);
            QueueException qe = storageError("queue commit failed: " + e, e);
            for (IndexOp op : batch) {
                IndexOp.fail(op, qe);
            }
            return;
        }
        done.forEach(f -> f.complete(null));
        completeSteps(steps, stepResults);
        finishRelocations(relocations, relocated);
        for (Release r : released) {
            try {
                spool.release(r.id(), r.location());
            } catch (IOException ex) {
                LOG.warn("{} spool file not deleted ({}); it is removed at the next open", r.id(), ex.toString());
            }
        }
    }

    private static void completeSteps(List<IndexOp.Step> steps, List<Object> results) {
        for (int i = 0; i < steps.size(); i++) {
            if (results.get(i) instanceof Throwable t) {
                steps.get(i).done().completeExceptionally(t);
            } else {
                steps.get(i).done().complete(results.get(i));
            }
        }
    }

    /**
     * Runs one audit step; what it throws is its result, so a damaged index fails the step (and
     * the check), not the writes that share the commit: its repairs so far are each whole.
     */
    private Object step(IndexOp.Step st) {
        try {
            return st.work().get();
        } catch (IndexDamage.Damaged d) {
            return d;
        } catch (RuntimeException | InternalError | java.io.IOError e) {
            return IndexDamage.fromStore(e) ? index.damaged(e) : e;
        }
    }

    /**
     * After the commit that moved them: each old record is marked dead and lets its segment go;
     * a copy that was not used is marked dead and let go instead.
     */
    private void finishRelocations(List<IndexOp.Relocate> relocations, List<Boolean> relocated) {
        for (int i = 0; i < relocations.size(); i++) {
            IndexOp.Relocate m = relocations.get(i);
            boolean ok = relocated.get(i);
            try {
                if (ok) {
                    spool.markDeadAt(m.from().keeps(), m.fromStart());
                    markedMoves.add(IndexKeys.movedKey(m.from().keeps(), m.fromStart()));
                    spool.releaseRecord(m.from());
                } else {
                    spool.markDeadAt(m.to().segment(), m.to().recordStart());
                    spool.releaseRecord(m.to().location());
                }
            } catch (IOException ex) {
                LOG.warn("{}: moved spool record not marked dead or released ({}); done at the next open",
                        m.id(), ex.toString());
            }
            m.done().complete(ok);
        }
    }

    /** Applies one entry's last write of a batch to the index; returns the MapDB writes it cost (0 or 1). */
    private int apply(QueueId id, IndexOp op, Map<QueueId, SpoolLocation> createdHere, List<Release> released) {
        EntryCodec.Stored old = createdHere.containsKey(id) ? null : index.get(id.value());
        if (op instanceof IndexOp.Put p) {
            if (old == null && !createdHere.containsKey(id)) {
                // Removed before this write reached us (delivered or deleted; ids are never
                // reused): written, it would bring the entry back after its message is gone.
                return 0;
            }
            SpoolLocation loc = old != null ? old.location() : createdHere.get(id);
            index.apply(id, old, p.entry(), loc);
            return 1;
        }
        if (old != null) {
            index.apply(id, old, null, old.location());
            released.add(new Release(id, old.location()));
            return 1;
        }
        SpoolLocation loc = createdHere.get(id);
        if (loc != null) {
            released.add(new Release(id, loc));
        }
        return 0;
    }

    /** "index: N commits, M writes (K per commit, C coalesced), T ms per commit". */
    String stats() {
        long c = Math.max(1, commits.get());
        return String.format(java.util.Locale.ROOT,
                "index: %d commits, %d writes (%.1f per commit, %d coalesced), %.2f ms per commit",
                commits.get(), committedOps.get(), committedOps.get() / (double) c,
                coalesced.get(), commitNanos.get() / 1e6 / c);
    }
}
