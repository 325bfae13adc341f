package relaybox.queue.mapdb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.CrossCheckProgress;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * Owns the cross-check of the spool against the index after a stop that was not clean, run in
 * the background once the queue is open: the open itself only replays each segment's records
 * past its watermark, so a restart after kill -9 is back to accepting at any depth. MapDB keeps
 * no checksum of its nodes, so damage it cannot see may have lost an entry, a due key or a count;
 * the check finds and mends that while the queue runs, in two phases:
 * <ol>
 * <li>Rescue: every segment present at the open (none is appended to any more) is scanned from
 *     its start, and each live ACCEPT whose entry the index lacks and that no REMOVE follows is
 *     queued again as if just accepted, with the state its later UPDATEs give it. Each is
 *     confirmed under the queue's lock first, where every removal writes its journal: not in the
 *     index nor on its way there, its record not marked dead, its file there, not removed since
 *     the open. A message delivered while the check ran is so never taken for a lost one.</li>
 * <li>Audit ({@link IndexAudit}, on the committer's thread, a bounded step at a time): missing
 *     keys put back, stray keys taken out, a tree damaged out of order reported (the next start
 *     rebuilds the index from the spool), counts and segment references recounted.</li>
 * </ol>
 * Until it ends no spool segment is deleted or compacted (a reference count in doubt must not let
 * bytes go) and a close writes no clean-stop stamp, so a stop before the end means the next open
 * checks again. Each change it makes is whole on its own: a crash in the middle loses nothing.
 * How far it has got is kept as a {@link CrossCheckProgress}, replaced at each segment, rescue
 * and audit step, for status, metrics and health; its end is one log line with the same figures.
 */
final class CrossCheck {

    private static final Logger LOG = LoggerFactory.getLogger(MapDbQueue.class);

    private final MapDbQueue queue;
    private final Spool spool;
    private final IndexView view;
    private final IndexCommitter committer;
    private final IndexAudit audit;
    private final LostEntries lostEntries;
    private final List<Long> segments;
    /** Tests only: the check of the queue in this directory waits for the latch before it starts. */
    static final Map<java.nio.file.Path, java.util.concurrent.CountDownLatch> GATES_FOR_TEST =
            new java.util.concurrent.ConcurrentHashMap<>();
    /** Tests only: the same, before the audit phase (the rescue phase is over, its figures are in). */
    static final Map<java.nio.file.Path, java.util.concurrent.CountDownLatch> AUDIT_GATES_FOR_TEST =
            new java.util.concurrent.ConcurrentHashMap<>();

    private final java.nio.file.Path dir;
    private final Thread thread = new Thread(this::run, "queue-cross-check");
    private final CompletableFuture<Boolean> finished = new CompletableFuture<>();
    private volatile boolean stopping;
    /** The open saw damage already (its replay quarantined a range). */
    volatile boolean damageSeen;
    private int rescued;
    private int ranges;
    /** When the last pause ended: the time since is what the step took. */
    private long lastPause;
    /** Written by the check's thread only, read by status, metrics and health. */
    private volatile CrossCheckProgress progress;

    CrossCheck(MapDbQueue queue, IndexCommitter committer, List<Long> segments, java.nio.file.Path dir) {
        this.queue = queue;
        this.dir = dir;
        this.spool = queue.spool;
        this.view = queue.view;
        this.committer = committer;
        this.segments = List.copyOf(segments);
        this.audit = new IndexAudit(view.index);
        this.lostEntries = new LostEntries(spool, view, audit.removedFiles);
        // Before the committer starts: every change from the first commit on is tallied.
        view.index.audit = audit;
        spool.holdSegments();
        // From the open on: the segments are held from now, so the check counts as running.
        progress = CrossCheckProgress.started(this.segments.size(), queue.clock().instant());
    }

    /** How far the check has got; any thread. */
    CrossCheckProgress progress() {
        return progress;
    }

    void start() {
        thread.setDaemon(true);
        thread.setPriority(Thread.MIN_PRIORITY);
        thread.start();
    }

    /** Stops the check where it is (a close, or a test's kill); the next open checks again. */
    void stop() {
        stopping = true;
        thread.interrupt();
        try {
            thread.join(30_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Whether the check ran to its end: only then may a close stamp the stop clean. */
    boolean done() {
        return finished.isDone() && !finished.isCompletedExceptionally() && finished.join();
    }

    /** Completes when the check ends: true when it ran to its end, exceptionally when it found the index damaged. */
    CompletableFuture<Boolean> finished() {
        return finished;
    }

    private void run() {
        long t0 = System.nanoTime();
        LOG.info("queue cross-check started: the last stop was not clean, so the {} spool segments found at the open"
                + " are checked against the index in the background while the queue runs", segments.size());
        try {
            awaitGate(GATES_FOR_TEST);
            rescue(scan());
            progress = progress.auditing();
            awaitGate(AUDIT_GATES_FOR_TEST);
            long scanned = System.nanoTime();
            lastPause = scanned;
            while (!stopping && (Boolean) step(audit::step, audit::wrote)) {
                progress = progress.audited(audit.entries, audit.putBack + audit.strays);
                pause();
            }
            checkStopping();
            IndexAudit.Correction c = (IndexAudit.Correction) step(audit::finish, () -> true);
            c.references().forEach((seg, d) -> LOG.warn("spool segment {}: its reference count was off by {};"
                    + " recounted from the entries", seg, -d));
            spool.adjustReferences(c.references());
            queue.recounted(c.counts(), audit.putBack + audit.strays > 0);
            long repaired = audit.putBack + audit.strays + c.references().size() + c.counts().size();
            boolean mended = rescued + ranges + repaired > 0;
            // The references are exact again, so segments go as their entries do from now on; but
            // after damage, as at an open after damage, none that nothing refers to goes now: what
            // a damaged record referred to is not known.
            spool.endHold(!damageSeen && !mended);
            progress = progress.audited(audit.entries, repaired).done(repaired, queue.clock().instant());
            // One line for the end, with every figure: status and metrics show the same numbers.
            LOG.atLevel(damageSeen || mended ? org.slf4j.event.Level.WARN : org.slf4j.event.Level.INFO).log(
                    "queue cross-check done in {} ms: {} entries queued again from the spool, {} index repairs ({} keys"
                    + " put back, {} stray keys taken out, counts corrected by {}, {} segment reference counts"
                    + " recounted), {} damaged spool ranges quarantined; {} spool records read in {} segments ({} ms),"
                    + " {} entries checked ({} ms, half of it paused){}",
                    (System.nanoTime() - t0) / 1_000_000, rescued, repaired, audit.putBack, audit.strays, c.counts(),
                    c.references().size(), ranges, lostEntries.records, segments.size(), (scanned - t0) / 1_000_000,
                    audit.entries, (System.nanoTime() - scanned) / 1_000_000, damageSeen || mended
                            ? "; damage was seen, so spool segments nothing refers to now are kept until the next start"
                            : "");
            finished.complete(true);
        } catch (IndexDamage.Damaged d) {
            // Reported already (marker, health): the next start rebuilds the index from the spool.
            progress = progress.failed("the index is damaged (" + d.getMessage() + "); the next start rebuilds it"
                    + " from the spool", queue.clock().instant());
            LOG.error("queue cross-check stopped after {} ms: the index is damaged ({}); {} entries queued again"
                    + " from the spool before", (System.nanoTime() - t0) / 1_000_000, d.getMessage(), rescued);
            finished.completeExceptionally(d);
        } catch (InterruptedException | java.io.InterruptedIOException | java.nio.channels.ClosedByInterruptException e) {
            LOG.info("queue cross-check stopped after {} ms by the close; the next start checks again",
                    (System.nanoTime() - t0) / 1_000_000);
            finished.complete(false);
        } catch (Exception | Error e) {
            if (stopping) {
                LOG.info("queue cross-check stopped after {} ms by the close ({}); the next start checks again",
                        (System.nanoTime() - t0) / 1_000_000, e.toString());
                finished.complete(false);
            } else {
                progress = progress.failed(e.toString() + "; no spool segment is deleted until the next start, which"
                        + " checks again", queue.clock().instant());
                LOG.error("queue cross-check failed after {} ms ({} entries queued again from the spool before); no"
                        + " spool segment is deleted until the next start, which checks again",
                        (System.nanoTime() - t0) / 1_000_000, rescued, e);
                finished.completeExceptionally(e);
            }
        }
    }

    /** Reads every segment present at the open; returns the live ACCEPTs whose entries the index lacks. */
    private java.util.Collection<LostEntries.Candidate> scan() throws IOException, InterruptedException {
        int n = 0;
        for (long seg : segments) {
            checkStopping();
            lostEntries.scan(seg, () -> stopping);
            progress = progress.scanned(++n);
        }
        quarantine(lostEntries.damaged);
        for (QueueId id : lostEntries.removedWithFile) {
            // Ids are never reused: a REMOVE is final, and the file is nobody's.
            Files.deleteIfExists(spool.file(id));
            LOG.info("{}: its message file outlived its removal (a stop between the two); deleted", id);
        }
        progress = progress.rescued(rescued, ranges);
        return lostEntries.lost.values();
    }

    /** Queues again each candidate the index still lacks, confirmed under the queue's lock. */
    private void rescue(java.util.Collection<LostEntries.Candidate> lost) throws IOException, InterruptedException {
        List<String> back = new ArrayList<>();
        for (LostEntries.Candidate c : lost) {
            checkStopping();
            QueueEntry e = c.stored().entry();
            SpoolLocation loc = c.stored().location();
            if (e.state() == EntryState.SENDING) {
                e = e.recovered(queue.clock().instant());
            }
            if (e.state() != EntryState.QUARANTINED && !spool.intact(e.id(), loc)) {
                e = e.quarantined(loc.inFile() ? "spool file missing or short" : "spool segment missing or short");
            }
            if (queue.rescue(e, loc, () -> lostEntries.stillLost(c))) {
                rescued++;
                progress = progress.rescued(rescued, ranges);
                back.add(e.id().value());
                LOG.error("{}: acknowledged, but missing from the index although its watermark had passed its spool"
                        + " record; queued again from the spool", e.id());
            }
        }
        if (!back.isEmpty()) {
            // An index record quarantined at an earlier open is whole again now.
            step(() -> {
                back.forEach(id -> {
                    if (queue.quarantines.raw.remove(id) != null) {
                        LOG.warn("{}: its index record was damaged; restored from its spool record", id);
                    }
                });
                return null;
            }, () -> true);
        }
    }

    /** Keeps each damaged range in the quarantine map, as the open does with those past a watermark. */
    private void quarantine(List<long[]> damaged) throws IOException, InterruptedException {
        Map<String, byte[]> raw = new java.util.LinkedHashMap<>();
        for (long[] r : damaged) {
            raw.put(Recovery.rangeKey(r[0], r[1]), Recovery.rangeBytes(spool, r[0], r[1], r[2]));
        }
        if (raw.isEmpty()) {
            return;
        }
        List<String> added = new ArrayList<>();
        step(() -> {
            raw.forEach((key, bytes) -> {
                if (!queue.quarantines.raw.containsKey(key)) {
                    queue.quarantines.raw.put(key, bytes);
                    added.add(key);
                }
            });
            return null;
        }, () -> true);
        for (long[] r : damaged) {
            String key = Recovery.rangeKey(r[0], r[1]);
            if (added.contains(key)) {
                ranges++;
                queue.quarantines.foundLater(new MapDbQueue.Quarantined(key, "spool record damaged: " + (r[2] - r[1])
                        + " bytes skipped"));
            }
        }
    }

    /** Runs one step on the committer's thread and waits for the commit that holds it. */
    private Object step(Supplier<Object> work, java.util.function.BooleanSupplier wrote)
            throws IOException, InterruptedException {
        CompletableFuture<Object> done = new CompletableFuture<>();
        committer.submit(new IndexOp.Step(work, wrote, done));
        try {
            return done.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof IndexDamage.Damaged d) {
                throw d;
            }
            throw new IOException("cross-check step failed: " + e.getCause(), e.getCause());
        }
    }

    /**
     * Low priority: after each step of the audit, as long idle again (at least 1 ms, at most
     * 200), so the committer's own writes keep at least half of its time.
     */
    private void pause() throws InterruptedException {
        long took = System.nanoTime() - lastPause;
        TimeUnit.NANOSECONDS.sleep(Math.max(TimeUnit.MILLISECONDS.toNanos(1), Math.min(took, TimeUnit.MILLISECONDS.toNanos(200))));
        lastPause = System.nanoTime();
    }

    private void awaitGate(Map<java.nio.file.Path, java.util.concurrent.CountDownLatch> gates)
            throws InterruptedException {
        java.util.concurrent.CountDownLatch gate = gates.get(dir);
        if (gate != null) {
            gate.await();
        }
    }

    private void checkStopping() throws InterruptedException {
        if (stopping) {
            throw new InterruptedException("closing");
        }
    }
}
