package relaybox.queue.mapdb;

import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.DBException;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.AbstractQueue;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The durable queue: owns the MapDB store ({@code queue.db}) and the spool directory, and is the
 * only code that opens either. An accepted message is a self-describing record in a spool
 * segment (see {@link Spool}); an accept returns after one fsync that every accept waiting at the
 * time shares. MapDB is the index over those records, written behind by a single committer
 * thread, so MapDB's one global transaction is never shared between writers and no client waits
 * for it; recovery re-reads the records the index had not reached.
 *
 * <h2>Failure behaviour</h2>
 * Below {@code minFreeSpace} free bytes nothing new is accepted (STORAGE_FULL), because MapDB
 * damages its store when the disk fills in the middle of a commit. If a commit fails anyway the
 * queue stops writing and reports itself unhealthy: the store is not trusted until a restart
 * recovers it; every later write fails with STORAGE_ERROR rather than risk acknowledged mail.
 * At open, a record that does not decode, or whose spool file is missing or short, is moved to
 * the quarantine map and reported by {@link #quarantinedAtOpen()}; nothing is dropped silently.
 * A message whose bytes fail their checksum when read for sending is quarantined, not sent, and
 * reported to the {@link #onQuarantine} listener.
 *
 * <h2>Thread safety</h2>
 * Safe for any number of threads. Accepts block until their commit; other writes do not.
 */
public final class MapDbQueue extends AbstractQueue {

    private static final Logger LOG = LoggerFactory.getLogger(MapDbQueue.class);
    private static final int MAX_BATCH = 4096;

    /** A quarantined record found at open, for the daemon's mail log. */
    public record Quarantined(String id, String reason) { }

    private sealed interface Op permits Put, Remove, Relocate, Stop { }

    /**
     * The entry's message moved to a copy of its record ({@link SegmentCompactor}): written with
     * the copy's location if the index still names {@code from}; {@code done} says whether it was.
     *
     * @param fromStart where the record at {@code from} starts, to be marked dead
     */
    private record Relocate(QueueId id, Spool.Location from, long fromStart, Spool.Appended to,
                            CompletableFuture<Boolean> done, Staged staged) implements Op { }

    /**
     * @param location    where the message bytes are, for a new entry; null for an update (the
     *                    committer reads it from the stored record)
     * @param segment, recordStart where the spool record of this write is (the ACCEPT of a new
     *                 entry, or the journal's UPDATE); -1 when none was written
     * @param staged      what {@link #overlay} holds for this write until the committer has it
     */
    private record Put(QueueEntry entry, Spool.Location location, long segment, long recordStart,
                       CompletableFuture<Void> done, boolean urgent, Staged staged) implements Op { }

    /**
     * @param segment, recordStart where the journal's REMOVE record is; -1 when none was written
     * @param urgent someone waits for this write (an admin action): commit without delay
     */
    private record Remove(QueueEntry entry, long segment, long recordStart, CompletableFuture<Void> done,
                          boolean urgent, Staged staged) implements Op { }

    /**
     * An entry written but not yet in the MapDB maps: the entry (null: removed) and, for one
     * accepted since, where its bytes are. Reads look here first.
     */
    record Staged(QueueEntry entry, Spool.Location location) { }

    /**
     * Writes nobody waits for (new entries, already durable in the spool; outcomes) are gathered
     * for up to this long into one index commit: each MapDB commit costs two fsyncs and a
     * write-ahead log file created and deleted, and nothing gains from committing sooner.
     */
    private static final long INDEX_INTERVAL_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(100);
    private long lastCommitNanos;

    private record Stop(CompletableFuture<Void> done) implements Op { }

    private final DB db;
    private final IndexStore index;
    private final BTreeMap<String, byte[]> quarantine;
    private final Spool spool;
    private final long minFreeSpace;
    private final FreeSpace freeSpace;
    private final LinkedBlockingQueue<Op> ops = new LinkedBlockingQueue<>();
    /**
     * Writes on their way to the committer, by id: what reads see before the MapDB maps have it.
     * The committer removes an id once it has applied that very write (a later write stays).
     * Bounded by the committer's backlog, not by the queue's depth.
     */
    private final Map<QueueId, Staged> overlay = new ConcurrentHashMap<>();
    /**
     * Held by the committer while it applies a batch to the maps and clears it from the
     * overlay, and by {@link #storedDue} while it reads the due index and the overlay together:
     * between the two, a due key and the overlay would disagree for a moment.
     */
    private final java.util.concurrent.locks.ReentrantReadWriteLock indexLock =
            new java.util.concurrent.locks.ReentrantReadWriteLock();
    private final Thread committer;
    private final BTreeMap<Long, Long> watermarks;
    /** Accepts waiting for the group fsync of the spool; served by {@link #syncLoop}. */
    private final LinkedBlockingQueue<CompletableFuture<Void>> syncWaiters = new LinkedBlockingQueue<>();
    private final Thread spoolSyncer = new Thread(this::syncLoop, "queue-spool-sync");
    private static final CompletableFuture<Void> STOP_SYNC = new CompletableFuture<>();
    /** Runs the accepts of messages in their own file (see {@link #acceptAsync}), as many as arrive at once. */
    private final ExecutorService largeWriters = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "queue-large-accept");
        t.setDaemon(true);
        return t;
    });
    private final AtomicLong spoolSyncs = new AtomicLong();
    /** Messages between their first body byte and their accept or discard (see SpoolIncoming). */
    private final AtomicInteger receiving = new AtomicInteger();
    /** The longest an fsync waits for messages still being received; see {@link #syncLoop}. */
    private static final long SYNC_GATHER_NANOS = TimeUnit.MICROSECONDS.toNanos(500);
    private final List<Quarantined> quarantinedAtOpen = new ArrayList<>();
    private final AtomicLong commits = new AtomicLong();
    private final AtomicLong committedOps = new AtomicLong();
    /** Writes that never reached MapDB because a later write in the same batch replaced them. */
    private final AtomicLong coalesced = new AtomicLong();
    private final AtomicLong commitNanos = new AtomicLong();
    private volatile boolean healthy = true;
    private final IndexDamage damage;
    private volatile Runnable damageListener = () -> { };
    private volatile boolean closed;
    /** Set by the committer when it exits; guarded by {@code ops}. */
    private boolean stopped;
    /** An urgent write is in {@link #ops}: {@link #gather} stops waiting. Guarded by ops. */
    private boolean urgentWaiting;

    private final SegmentCompactor compactor;
    /** Moved records marked dead since the last commit: dropped from {@link IndexStore#moved} by the next. */
    private final List<String> markedMoves = new ArrayList<>();

    private MapDbQueue(DB db, Spool spool, long minFreeSpace, RetrySchedule schedule, Clock clock,
                       SegmentCompactor.Settings compaction, Path dir) {
        super(clock, schedule);
        this.damage = new IndexDamage(dir);
        damage.onDamage(() -> {
            healthy = false;
            damageListener.run();
        });
        this.db = db;
        this.spool = spool;
        this.minFreeSpace = minFreeSpace;
        this.freeSpace = new FreeSpace(spool::usableSpace, minFreeSpace);
        this.index = new IndexStore(db, damage);
        this.quarantine = db.treeMap("quarantine", Serializer.STRING, Serializer.BYTE_ARRAY).createOrOpen();
        // Per spool segment: every record before this offset has reached the index (entries).
        this.watermarks = db.treeMap("watermarks", Serializer.LONG, Serializer.LONG).createOrOpen();
        this.committer = new Thread(this::commitLoop, "queue-committer");
        this.compactor = new SegmentCompactor(spool, new CompactionHost(), compaction);
    }

    /**
     * Opens (or creates) the queue in {@code dir} and recovers it (see {@link Recovery}): the
     * spool's records the index had not reached (accepts and the outcome journal) are replayed,
     * entries left in SENDING are QUEUED again, undecodable records, damaged spool ranges and
     * entries without their message are quarantined, and bytes no record refers to (never
     * acknowledged) are deleted, unless damage was seen.
     *
     * <p>If the index itself cannot be opened or recovered (MapDB damaged by a crash or a bad
     * disk), it is moved aside as {@code queue.db.damaged-<time>} and rebuilt from the spool's
     * records: every acknowledged message still there is queued again, with the state its
     * journal records give it; a delivered message's record is dead and stays out. Records
     * written before the journal existed have no dead marks: those are sent again. Duplicates,
     * never loss.
     *
     * @throws QueueException when the store is locked by another process, or the queue directory
     *                        cannot be used at all
     */
    public static MapDbQueue open(Path dir, long minFreeSpace, RetrySchedule schedule, Clock clock)
            throws QueueException {
        return open(dir, minFreeSpace, schedule, clock, SegmentCompactor.Settings.DEFAULT, Spool.SEGMENT_SIZE);
    }

    /**
     * As {@link #open(Path, long, RetrySchedule, Clock)}, with the spool's compaction settings: a
     * segment is compacted when its live bytes are below {@code compactLivePercent} % of its
     * length (0: never) and it has been closed for at least {@code compactMinAge}.
     */
    public static MapDbQueue open(Path dir, long minFreeSpace, RetrySchedule schedule, Clock clock,
                                  int compactLivePercent, java.time.Duration compactMinAge) throws QueueException {
        return open(dir, minFreeSpace, schedule, clock, new SegmentCompactor.Settings(compactLivePercent,
                compactMinAge, SegmentCompactor.Settings.DEFAULT.interval()), Spool.SEGMENT_SIZE);
    }

    /** With every storage setting; a segment size other than 64 MiB is for tests. */
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
        try {
            if (IndexDamage.marked(dir) && Files.isRegularFile(dir.resolve("queue.db"))) {
                throw new QueueException(QueueException.Kind.STORAGE_ERROR, "the last run found it damaged ("
                        + IndexDamage.MARKER + ")");
            }
            q = openIndex(dir, spool, minFreeSpace, schedule, clock, false, compaction);
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
            q = openIndex(dir, spool, minFreeSpace, schedule, clock, true, compaction);
        }
        try {
            // Whatever the marker said is settled: this index was opened or rebuilt whole.
            IndexDamage.clear(dir);
        } catch (IOException e) {
            LOG.warn("cannot remove {} ({}); the next start rebuilds the index again", dir.resolve(IndexDamage.MARKER),
                    e.toString());
        }
        q.committer.start();
        q.spoolSyncer.setDaemon(true);
        q.spoolSyncer.start();
        q.spool.startPreparing(q::roomForZeros);
        q.compactor.start();
        return q;
    }

    private static MapDbQueue openIndex(Path dir, Spool spool, long minFreeSpace, RetrySchedule schedule, Clock clock,
                                        boolean rebuilding, SegmentCompactor.Settings compaction)
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
                    // fails the commit like any other error (see commitBatch).
                    .fileMmapEnableIfSupported()
                    .make();
        } catch (DBException.FileLocked e) {
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "queue store " + dir.resolve("queue.db")
                    + " is locked by another process (is the relaybox daemon running?)", e);
        } catch (RuntimeException | Error e) {
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "cannot open queue store "
                    + dir.resolve("queue.db") + ": " + e, e);
        }
        MapDbQueue q = null;
        try {
            q = new MapDbQueue(db, spool, minFreeSpace, schedule, clock, compaction, dir);
            q.recover(rebuilding);
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
                if (name.equals("queue.db") || name.startsWith("queue.db.wal")) {
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
     * files missing, a rebuilt index) one walk over every entry re-indexes it.
     */
    private void recover(boolean rebuilding) throws IOException {
        boolean walk = rebuilding || !index.current() || !spoolWhole();
        Recovery r = new Recovery(index, quarantine, watermarks, spool, clock.instant());
        // A rebuilt index knew nothing of what the old one referred to: nothing is deleted.
        r.damageSeen = rebuilding;
        r.run(walk);
        quarantinedAtOpen.addAll(r.quarantined);
        index.markCurrent();
        db.commit();
        if (r.replayed > 0) {
            LOG.warn("{} accepted messages were recovered from the spool (the index had not been written"
                    + " before the stop)", r.replayed);
        }
        // The segments' references are the index's persisted counts, replay included: a clean
        // open reads no entry to know which segments are still needed.
        index.segmentRefs.forEach(spool::reference);
        spool.removeOrphans(r.ownFiles, r.damageSeen);
        // A segment's number comes back when an open finds no segment file at all (numbering
        // starts at 0 again) or the highest one was deleted: the old watermark of that number
        // would make the next recovery skip the new segment's first records, acknowledged mail.
        // Watermarks of segments that are gone are dropped before anything is appended.
        Set<Long> present = new HashSet<>(spool.segmentNumbers());
        List<Long> gone = watermarks.keySet().stream().filter(seg -> !present.contains(seg)).toList();
        if (!gone.isEmpty()) {
            gone.forEach(watermarks::remove);
            db.commit();
        }
        spool.sync();
        Map<EntryState, Long> counts = index.counts();
        initCounts(counts);
        LOG.info("queue opened: {} entries, {} quarantined at open{}", counts.values().stream().mapToLong(x -> x).sum(),
                quarantinedAtOpen.size(), walk ? " (index rebuilt by a walk over every entry)" : "");
    }

    /** Whether every segment and file the index refers to is there, as long as the index says. */
    private boolean spoolWhole() throws IOException {
        for (Map.Entry<Long, Long> s : index.segmentRefs.entrySet()) {
            long end = index.segmentEnds.getOrDefault(s.getKey(), 0L);
            if (!spool.intact(null, new Spool.Location(s.getKey(), 0, end))) {
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

    /** Records quarantined while opening the store, for the daemon to log. */
    public List<Quarantined> quarantinedAtOpen() {
        return List.copyOf(quarantinedAtOpen);
    }

    /** Raw records that did not decode, by key. */
    public Map<String, byte[]> quarantinedRecords() {
        return Map.copyOf(quarantine);
    }

    /** Tests only: messages counted as being received. */
    int receivingForTest() {
        return receiving.get();
    }

    /** MapDB commits made since open (to see group commit at work). */
    public long commitCount() {
        return commits.get();
    }

    @Override
    public Incoming receive() throws QueueException {
        checkWritable();
        checkSpace();
        return new SpoolIncoming(spool.writer(QueueId.next(clock.instant())), receiving);
    }


    @Override
    public QueueEntry accept(Incoming incoming, Envelope envelope, String addedHeaders) throws QueueException {
        try {
            return acceptAsync(incoming, envelope, addedHeaders).toCompletableFuture().get();
        } catch (ExecutionException e) {
            throw asQueueException(e.getCause());
        } catch (InterruptedException e) {
            // The message may still become durable and be sent; the client, told 451, may send it
            // again: a duplicate, never a loss.
            Thread.currentThread().interrupt();
            throw storageError("interrupted while waiting for the queue commit", e);
        }
    }

    @Override
    public CompletableFuture<QueueEntry> acceptAsync(Incoming incoming, Envelope envelope, String addedHeaders) {
        if (!(incoming instanceof SpoolIncoming in)) {
            throw new IllegalArgumentException("incoming message is not from this queue");
        }
        if (in.finished()) {
            throw new IllegalStateException(in.id() + " was already accepted or discarded");
        }
        in.finish();
        if (in.writer.spilled()) {
            // A large message's own file is fsynced before its record is appended, so a durable
            // record never names a partial file. That fsync takes milliseconds per megabyte: it
            // runs here, off the caller's event loop.
            return CompletableFuture.supplyAsync(() -> store(in, envelope, addedHeaders), largeWriters)
                    .thenCompose(f -> f);
        }
        return store(in, envelope, addedHeaders);
    }

    /** Writes the record and returns the stage that completes after the spool fsync that covers it. */
    private CompletableFuture<QueueEntry> store(SpoolIncoming in, Envelope envelope, String addedHeaders) {
        Spool.Location loc = null;
        try {
            checkWritable();
            Spool.Location file;
            try {
                file = in.writer.finish();
            } catch (IOException e) {
                throw storageError("cannot write the message to the spool: " + e, e);
            }
            long bodySize = file == null ? in.writer.smallSize() : file.length();
            // Checked after the bytes are written, so a message that ate the reserve is refused too.
            freeSpace.wrote(bodySize);
            checkSpace();
            long size = bodySize + addedHeaders.getBytes(StandardCharsets.UTF_8).length;
            QueueEntry e = QueueEntry.accepted(in.id(), envelope, addedHeaders, size, clock.instant());
            Spool.Appended a;
            try {
                a = spool.appendRecord(l -> EntryCodec.encode(e, l), file == null ? in.writer.smallBytes() : null,
                        in.writer.smallSize(), file);
            } catch (IOException ex) {
                throw storageError("cannot append to the spool: " + ex, ex);
            }
            Spool.Location where = a.location();
            loc = where;
            // The 250 waits for this one fsync (shared by every accept waiting with it), not for
            // the index: the record in the spool is self-describing and recovery reads it back.
            CompletableFuture<Void> synced = new CompletableFuture<>();
            syncWaiters.add(synced);
            return synced.handle((v, failure) -> {
                if (failure != null) {
                    in.writer.discard(where);
                    throw new CompletionException(asQueueException(failure));
                }
                // The index write is queued before the entry can be leased, so its removal can
                // never reach the committer ahead of it.
                Staged st = new Staged(e, where);
                return admit(e, () -> {
                    overlay.put(e.id(), st);
                    submit(new Put(e, where, a.segment(), a.recordStart(), new CompletableFuture<>(), false, st));
                    return e;
                });
            });
        } catch (QueueException | RuntimeException ex) {
            in.writer.discard(loc);
            return CompletableFuture.failedFuture(ex);
        }
    }

    /** The QueueException behind a failed stage; anything else becomes a STORAGE_ERROR. */
    private static QueueException asQueueException(Throwable t) {
        while ((t instanceof CompletionException || t instanceof ExecutionException) && t.getCause() != null) {
            t = t.getCause();
        }
        if (t instanceof QueueException q) {
            return q;
        }
        return storageError("queue write failed: " + t, t);
    }

    /**
     * Serves {@link #syncWaiters}: one spool fsync for everyone waiting, then all are released.
     * While other messages' bodies are still arriving it waits up to {@link #SYNC_GATHER_NANOS}
     * for them to join, as PostgreSQL's commit_delay does when commit_siblings are active: each
     * fsync costs the machine three thread switches and a disk flush, and a body already
     * arriving is a few hundred microseconds from its final dot. A lone client never waits
     * (nobody else is receiving).
     */
    private void syncLoop() {
        List<CompletableFuture<Void>> batch = new ArrayList<>();
        while (true) {
            batch.clear();
            try {
                batch.add(syncWaiters.take());
                syncWaiters.drainTo(batch);
                long deadline = System.nanoTime() + SYNC_GATHER_NANOS;
                while (receiving.get() > 0 && !batch.contains(STOP_SYNC)) {
                    long left = deadline - System.nanoTime();
                    CompletableFuture<Void> next = left > 0 ? syncWaiters.poll(left, TimeUnit.NANOSECONDS) : null;
                    if (next == null) {
                        break;
                    }
                    batch.add(next);
                    syncWaiters.drainTo(batch);
                }
            } catch (InterruptedException e) {
                return;
            }
            boolean stop = batch.remove(STOP_SYNC);
            try {
                if (!batch.isEmpty()) {
                    spool.sync();
                    spoolSyncs.incrementAndGet();
                }
                awaitCommitter();
                batch.forEach(f -> f.complete(null));
            } catch (IOException | RuntimeException e) {
                healthy = false;
                LOG.error("spool fsync failed; relaybox stops accepting mail until restarted", e);
                QueueException qe = storageError("spool fsync failed: " + e, e);
                batch.forEach(f -> f.completeExceptionally(qe));
            }
            if (stop) {
                // Late arrivals after close are failed, never left waiting.
                List<CompletableFuture<Void>> late = new ArrayList<>();
                syncWaiters.drainTo(late);
                late.forEach(f -> f.completeExceptionally(storageError("queue is closed", null)));
                return;
            }
        }
    }

    /**
     * The most writes the committer may have outstanding before new accepts wait for it: what
     * keeps the overlay, and with it the heap, bounded when mail arrives faster than the index
     * can take it (MapDB's puts slow down as the index grows). About 1 KB of heap each.
     */
    static final int MAX_STAGED = 8_192;

    /**
     * Holds the acknowledgements of the accepts just synced while the committer is more than
     * {@link #MAX_STAGED} writes behind: flow control, so intake runs at the index's pace instead
     * of filling the heap. In the normal case (the committer keeps up) this returns at once.
     */
    @Override
    protected void awaitRoom() {
        while (overlay.size() > MAX_STAGED / 2 && healthy && !closed) {
            synchronized (overlay) {
                try {
                    overlay.wait(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    private void awaitCommitter() {
        while (overlay.size() > MAX_STAGED && healthy && !closed) {
            synchronized (overlay) {
                try {
                    overlay.wait(5);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                }
            }
        }
    }

    /**
     * Opens the message for sending after checking its bytes against their checksum. Bytes that
     * do not match are never handed out: the entry is marked damaged, the caller gets an
     * IOException, and the outcome it then records quarantines the entry instead (see
     * {@link #recordOutcome}); an entry not being sent is quarantined at once.
     */
    @Override
    public InputStream openMessage(QueueId id) throws IOException {
        QueueEntry e = get(id).orElse(null);
        Spool.Location loc = location(id);
        if (e == null || loc == null) {
            throw new IOException("no queue entry " + id);
        }
        InputStream body;
        try {
            try {
                body = spool.open(id, loc);
            } catch (java.nio.file.NoSuchFileException gone) {
                // The compactor moved it between the lookup and the open, and its old segment
                // went: the copy is where the entry is now.
                Spool.Location moved = location(id);
                if (moved == null || moved.equals(loc)) {
                    throw gone;
                }
                body = spool.open(id, moved);
            }
        } catch (MessageReader.Damaged d) {
            damaged(e, d.getMessage());
            throw d;
        }
        return new SequenceInputStream(new ByteArrayInputStream(e.addedHeaders().getBytes(StandardCharsets.UTF_8)),
                body);
    }

    /** Entries whose message failed its checksum while leased, with the reason, until their outcome. */
    private final Map<QueueId, String> damaged = new ConcurrentHashMap<>();
    private volatile java.util.function.Consumer<Quarantined> quarantineListener = q -> { };

    /**
     * Called once if the index turns out damaged while the queue runs: the queue is unhealthy
     * from then on, and the next open rebuilds the index from the spool, so the owner should stop
     * and be started again.
     */
    public void onIndexDamaged(Runnable listener) {
        damageListener = listener;
    }

    /** Called for every entry quarantined while the queue runs (a message that failed its checksum). */
    public void onQuarantine(java.util.function.Consumer<Quarantined> listener) {
        quarantineListener = listener;
    }

    private void damaged(QueueEntry e, String why) {
        LOG.error("{}: message damaged on disk ({}); quarantined, not sent", e.id(), why);
        if (e.state() == EntryState.SENDING) {
            damaged.put(e.id(), why);
        } else if (e.state() != EntryState.QUARANTINED) {
            quarantine(e, why);
        }
    }

    private void quarantine(QueueEntry e, String why) {
        quarantineEntry(e.id(), why);
        quarantineListener.accept(new Quarantined(e.id().value(), why));
    }

    /**
     * An attempt whose message failed its checksum ends in quarantine, whatever the session
     * reported (it aborted the transaction, so its outcome is a temporary failure that would
     * otherwise be retried forever).
     */
    @Override
    public Optional<QueueEntry> recordOutcome(QueueId id, Map<String, DeliveryOutcome> outcomes, Instant now) {
        String why = damaged.remove(id);
        if (why == null) {
            return super.recordOutcome(id, outcomes, now);
        }
        Optional<QueueEntry> q = quarantineEntry(id, why);
        q.ifPresent(e -> quarantineListener.accept(new Quarantined(id.value(), why)));
        return q;
    }

    /**
     * Writes the journal record of a change before it goes to the committer: an UPDATE with the
     * entry's new state, or for a removal a REMOVE and the dead mark on its ACCEPT record. One
     * small pwrite each, no fsync: written before the outcome returns (so before the forwarder
     * starts its next message), it survives kill -9 in the page cache, and recovery replays it
     * if the index commit did not happen. Returns null when nothing was written. No lock orders
     * journal records with their index writes: an entry's writes follow its life cycle one at a
     * time, and replay ignores an UPDATE for an entry already removed, whatever the file order.
     */
    private Spool.Appended journal(QueueEntry e, Spool.Location loc, boolean removed) {
        if (loc == null) {
            return null;
        }
        try {
            if (removed) {
                return spool.appendJournal(SpoolRecord.Kind.REMOVE, SpoolRecord.id(e.id().value()));
            }
            return spool.appendJournal(SpoolRecord.Kind.UPDATE, EntryCodec.encode(e, loc));
        } catch (IOException ex) {
            // The index write still goes ahead; without the journal record a crash before it
            // only means the entry's last attempt may be repeated.
            LOG.warn("{}: journal record not written ({})", e.id(), ex.toString());
            return null;
        }
    }

    /**
     * Marks a removed entry's ACCEPT record dead (see {@link Spool#markDead}); outside the journal
     * lock, since its order does not matter and it costs a read.
     */
    private void markDead(QueueEntry e, Spool.Location loc) {
        if (loc == null) {
            return;
        }
        try {
            if (!spool.markDead(loc)) {
                LOG.warn("{}: its spool record was not found to mark it removed", e.id());
            }
        } catch (IOException ex) {
            LOG.warn("{}: spool record not marked removed ({})", e.id(), ex.toString());
        }
    }

    /** Where an entry's message bytes are: known to the overlay for a new entry, else in its record. */
    private Spool.Location location(QueueId id) {
        Staged s = overlay.get(id);
        if (s != null && s.location() != null) {
            return s.location();
        }
        EntryCodec.Stored st = index.get(id.value());
        return st == null ? null : st.location();
    }

    // ---- the store behind AbstractQueue: the overlay over the MapDB index ---------------------

    @Override
    protected QueueEntry stored(QueueId id) {
        Staged s = overlay.get(id);
        if (s != null) {
            return s.entry();
        }
        EntryCodec.Stored st = index.get(id.value());
        return st == null ? null : st.entry();
    }

    @Override
    protected List<QueueEntry> storedDue(boolean fresh, Due after, int max) {
        indexLock.readLock().lock();
        try {
            String afterKey = after == null ? null : IndexStore.dueKey(fresh, after.at(), after.id().value());
            List<QueueEntry> out = new ArrayList<>();
            index.dueIds(fresh, afterKey, id -> {
                if (!overlay.containsKey(new QueueId(id))) {
                    EntryCodec.Stored st = index.get(id);
                    if (st != null) {
                        out.add(st.entry());
                    }
                }
                return out.size() < max;
            });
            for (Staged s : overlay.values()) {
                QueueEntry e = s.entry();
                if (e != null && (e.state() == EntryState.QUEUED || e.state() == EntryState.DEFERRED)
                        && (e.attempts() == 0) == fresh && (after == null || Due.of(e).compareTo(after) > 0)) {
                    out.add(e);
                }
            }
            out.sort((a, b) -> Due.of(a).compareTo(Due.of(b)));
            return out.size() > max ? new ArrayList<>(out.subList(0, max)) : out;
        } finally {
            indexLock.readLock().unlock();
        }
    }

    @Override
    protected void scanStored(Set<EntryState> states, QueueId after, java.util.function.Predicate<QueueEntry> visitor) {
        // Writes not yet applied, merged into the store's id order; they win over the record.
        java.util.TreeMap<QueueId, Staged> staged = new java.util.TreeMap<>(overlay);
        java.util.Iterator<Map.Entry<QueueId, Staged>> ov =
                (after == null ? staged : staged.tailMap(after, false)).entrySet().iterator();
        ScanMerge m = new ScanMerge(states, visitor, ov);
        if (states.size() == 1) {
            index.stateIds(states.iterator().next(), after == null ? null : after.value(), id -> {
                QueueId q = new QueueId(id);
                if (!m.before(q) || staged.containsKey(q)) {
                    return m.going;
                }
                EntryCodec.Stored st = index.get(id);
                return st == null || m.emit(st.entry());
            });
        } else {
            var range = after == null ? index.records : index.records.tailMap(after.value(), false);
            java.util.Iterator<Map.Entry<String, byte[]>> it = index.read(() -> range.entrySet().iterator());
            while (index.read(it::hasNext)) {
                Map.Entry<String, byte[]> r = index.read(it::next);
                QueueId q = new QueueId(r.getKey());
                if (!m.before(q)) {
                    break;
                }
                if (staged.containsKey(q)) {
                    continue;
                }
                try {
                    if (!m.emit(EntryCodec.decodeStored(r.getValue()).entry())) {
                        break;
                    }
                } catch (EntryCodec.DecodeException ex) {
                    // Unreadable records are quarantined at open; a listing goes on past them.
                }
            }
        }
        m.rest();
    }


    @Override
    protected Optional<QueueEntry> firstStored(EntryState state) {
        QueueEntry[] found = {null};
        index.stateIds(state, null, id -> {
            Staged s = overlay.get(new QueueId(id));
            QueueEntry e = s != null ? s.entry() : java.util.Optional.ofNullable(index.get(id))
                    .map(EntryCodec.Stored::entry).orElse(null);
            if (e != null && e.state() == state) {
                found[0] = e;
                return false;
            }
            return true;
        });
        for (Staged s : overlay.values()) {
            QueueEntry e = s.entry();
            if (e != null && e.state() == state && (found[0] == null || e.id().compareTo(found[0].id()) < 0)) {
                found[0] = e;
            }
        }
        return Optional.ofNullable(found[0]);
    }

    @Override
    protected CompletableFuture<Void> write(QueueEntry entry, boolean urgent) {
        Staged prev = overlay.get(entry.id());
        Staged st = new Staged(entry, prev != null && prev.entry() != null ? prev.location() : null);
        Spool.Appended j = journal(entry, location(entry.id()), false);
        overlay.put(entry.id(), st);
        CompletableFuture<Void> done = new CompletableFuture<>();
        submit(new Put(entry, null, j == null ? -1 : j.segment(), j == null ? -1 : j.recordStart(), done, urgent, st));
        return done;
    }

    @Override
    protected CompletableFuture<Void> erase(QueueEntry entry, boolean urgent) {
        Staged prev = overlay.get(entry.id());
        Spool.Location loc = location(entry.id());
        markDead(entry, loc);
        Spool.Appended j = journal(entry, loc, true);
        Staged st = new Staged(null, prev != null ? prev.location() : null);
        overlay.put(entry.id(), st);
        CompletableFuture<Void> done = new CompletableFuture<>();
        submit(new Remove(entry, j == null ? -1 : j.segment(), j == null ? -1 : j.recordStart(), done, urgent, st));
        return done;
    }

    /** Tests only: while set, the committer writes nothing, as if the process were about to die. */
    volatile java.util.concurrent.CountDownLatch indexGateForTest;

    private void commitLoop() {
        List<Op> batch = new ArrayList<>();
        while (true) {
            batch.clear();
            try {
                batch.add(ops.take());
                java.util.concurrent.CountDownLatch gate = indexGateForTest;
                if (gate != null) {
                    gate.await();
                }
            } catch (InterruptedException e) {
                // Only crashForTest interrupts: what was taken dies unwritten, and its waiters learn so.
                batch.forEach(op -> fail(op, storageError("queue committer stopped", null)));
                return;
            }
            synchronized (ops) {
                // Set again by any urgent write not yet in ops; one already there is drained now.
                urgentWaiting = false;
            }
            ops.drainTo(batch, MAX_BATCH - 1);
            try {
                gather(batch);
            } catch (InterruptedException e) {
                return;
            }
            Stop stop = null;
            for (Op op : batch) {
                if (op instanceof Stop s) {
                    stop = s;
                }
            }
            commitBatch(batch);
            if (stop != null) {
                synchronized (ops) {
                    stopped = true;
                    List<Op> late = new ArrayList<>();
                    ops.drainTo(late);
                    QueueException qe = storageError("queue is closed", null);
                    for (Op op : late) {
                        fail(op, qe);
                    }
                }
                stop.done().complete(null);
                return;
            }
        }
    }

    /**
     * Waits, up to the index interval since the last commit, for more writes to share the commit.
     * Only an urgent write (someone waits for it) ends the wait early: the others are left in
     * {@link #ops} and drained once, so the committer is not woken for every accepted message
     * (it was, 0.8 thread switches per message, plus a futex call on the accepting event loop).
     */
    private void gather(List<Op> batch) throws InterruptedException {
        if (batch.stream().anyMatch(MapDbQueue::urgent)) {
            return;
        }
        long deadline = lastCommitNanos + INDEX_INTERVAL_NANOS;
        synchronized (ops) {
            // A full batch need not wait either: a retry of the whole queue writes thousands.
            while (!urgentWaiting && ops.size() < MAX_BATCH - batch.size()) {
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    break;
                }
                ops.wait(left / 1_000_000, (int) (left % 1_000_000));
            }
        }
        ops.drainTo(batch, MAX_BATCH - batch.size());
    }

    private static boolean urgent(Op op) {
        return op instanceof Stop || (op instanceof Put p && p.urgent()) || (op instanceof Remove r && r.urgent());
    }

    /** A message whose entry the batch removed: its bytes go once the removal is committed. */
    private record Release(QueueId id, Spool.Location location) { }

    /** One group commit: every op waiting shares one spool-directory fsync and one MapDB commit. */
    private void commitBatch(List<Op> batch) {
        List<CompletableFuture<Void>> done = new ArrayList<>();
        List<Release> released = new ArrayList<>();
        Map<Long, Set<Long>> newRecords = new java.util.HashMap<>();
        List<Relocate> relocations = new ArrayList<>();
        List<Boolean> relocated = new ArrayList<>();
        try {
            if (!healthy) {
                throw new IOException("queue store failed earlier; restart relaybox to recover it");
            }
            // Only each entry's last write in the batch reaches MapDB: a message accepted and
            // delivered within one batch costs no index write at all, only the watermark that
            // moves past its spool record.
            Map<QueueId, Op> last = new java.util.LinkedHashMap<>();
            Map<QueueId, Spool.Location> createdHere = new java.util.HashMap<>();
            for (Op op : batch) {
                if (op instanceof Put p) {
                    if (p.recordStart() >= 0) {
                        // Counted for the watermark even if dropped below: otherwise the segment
                        // would be scanned from this record at every open.
                        newRecords.computeIfAbsent(p.segment(), k -> new HashSet<>()).add(p.recordStart());
                    }
                    if (p.location() != null) {
                        createdHere.put(p.entry().id(), p.location());
                    }
                    if (!(last.get(p.entry().id()) instanceof Remove)) {
                        // After a removal (ids are never reused) a write is stale: see apply().
                        last.put(p.entry().id(), p);
                    }
                    done.add(p.done());
                } else if (op instanceof Remove r) {
                    if (r.recordStart() >= 0) {
                        newRecords.computeIfAbsent(r.segment(), k -> new HashSet<>()).add(r.recordStart());
                    }
                    last.put(r.entry().id(), r);
                    done.add(r.done());
                } else if (op instanceof Relocate m) {
                    newRecords.computeIfAbsent(m.to().segment(), k -> new HashSet<>()).add(m.to().recordStart());
                    relocations.add(m);
                }
            }
            if (done.isEmpty() && relocations.isEmpty()) {
                return;
            }
            int writes = 0;
            // The whole batch under one hold of the lock: taken per entry, a lease refill reading
            // the due index between them slowed the committer down during a drain until its
            // backlog (and the overlay) outgrew a 64 MiB heap (QueueDepthTest). The maps answer
            // for the writes from here on (MapDB reads see the open transaction).
            indexLock.writeLock().lock();
            try {
                // Moves first: a later write of the same entry in this batch keeps the location
                // the index has, which is then the copy's.
                for (Relocate m : relocations) {
                    EntryCodec.Stored old = createdHere.containsKey(m.id()) ? null : index.get(m.id().value());
                    boolean ok = old != null && old.location().equals(m.from());
                    if (ok) {
                        index.relocate(old, m.to().location(), m.fromStart());
                    }
                    relocated.add(ok);
                    overlay.remove(m.id(), m.staged());
                }
                for (Map.Entry<QueueId, Op> w : last.entrySet()) {
                    writes += apply(w.getKey(), w.getValue(), createdHere, released);
                    overlay.remove(w.getKey(), staged(w.getValue()));
                }
            } finally {
                indexLock.writeLock().unlock();
            }
            index.flush();
            for (Map.Entry<Long, Set<Long>> w : newRecords.entrySet()) {
                watermarks.put(w.getKey(), spool.watermark(w.getKey(), w.getValue()));
            }
            // Every other op's own staged value goes too, if it is still the latest: a stale write's.
            for (Op op : batch) {
                if (op instanceof Put || op instanceof Remove) {
                    overlay.remove(op instanceof Put p ? p.entry().id() : ((Remove) op).entry().id(), staged(op));
                }
            }
            synchronized (overlay) {
                overlay.notifyAll();
            }
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
            db.commit();
            markedMoves.clear();
            compactionHook.accept("committed");
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
            healthy = false;
            LOG.error("queue commit failed; relaybox stops accepting mail until restarted", e);
            QueueException qe = storageError("queue commit failed: " + e, e);
            for (Op op : batch) {
                fail(op, qe);
            }
            return;
        }
        done.forEach(f -> f.complete(null));
        finishRelocations(relocations, relocated);
        for (Release r : released) {
            try {
                spool.release(r.id(), r.location());
            } catch (IOException ex) {
                LOG.warn("{} spool file not deleted ({}); it is removed at the next open", r.id(), ex.toString());
            }
        }
    }

    /**
     * After the commit that moved them: each old record is marked dead and lets its segment go;
     * a copy that was not used is marked dead and let go instead.
     */
    private void finishRelocations(List<Relocate> relocations, List<Boolean> relocated) {
        for (int i = 0; i < relocations.size(); i++) {
            Relocate m = relocations.get(i);
            boolean ok = relocated.get(i);
            try {
                if (ok) {
                    spool.markDeadAt(m.from().keeps(), m.fromStart());
                    markedMoves.add(IndexStore.movedKey(m.from().keeps(), m.fromStart()));
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

    private static Staged staged(Op op) {
        return op instanceof Put p ? p.staged() : ((Remove) op).staged();
    }

    /** Applies one entry's last write of a batch to the index; returns the MapDB writes it cost (0 or 1). */
    private int apply(QueueId id, Op op, Map<QueueId, Spool.Location> createdHere, List<Release> released) {
        EntryCodec.Stored old = createdHere.containsKey(id) ? null : index.get(id.value());
        if (op instanceof Put p) {
            if (old == null && !createdHere.containsKey(id)) {
                // Removed before this write reached us (delivered or deleted; ids are never
                // reused): written, it would bring the entry back after its message is gone.
                return 0;
            }
            Spool.Location loc = old != null ? old.location() : createdHere.get(id);
            index.apply(id, old, p.entry(), loc);
            return 1;
        }
        if (old != null) {
            index.apply(id, old, null, old.location());
            released.add(new Release(id, old.location()));
            return 1;
        }
        Spool.Location loc = createdHere.get(id);
        if (loc != null) {
            released.add(new Release(id, loc));
        }
        return 0;
    }

    /**
     * The queue's side of compaction ({@link SegmentCompactor}), its only way in: the rest of the
     * queue knows nothing of it but {@link Relocate}.
     */
    private final class CompactionHost implements SegmentCompactor.Host {
        @Override
        public Spool.Location location(QueueId id) {
            return MapDbQueue.this.location(id);
        }

        @Override
        public Spool.Appended copy(QueueId id, Spool.Location from, byte[] body) throws IOException {
            // Under the queue's lock, which every write and removal of an entry holds while it
            // appends its journal record: each one of this entry that follows the copy is later
            // in the spool, so a replay applies it on top.
            synchronized (MapDbQueue.this) {
                QueueEntry e = stored(id);
                if (e == null || !from.equals(location(id))) {
                    return null;
                }
                Spool.Location file = from.inFile() ? new Spool.Location(-1, from.offset(), from.length()) : null;
                return spool.appendRecord(l -> EntryCodec.encode(e, l), body, body == null ? 0 : body.length, file);
            }
        }

        @Override
        public CompletableFuture<Void> syncSpool() {
            CompletableFuture<Void> synced = new CompletableFuture<>();
            syncWaiters.add(synced);
            return synced;
        }

        @Override
        public CompletableFuture<Boolean> relocate(QueueId id, Spool.Location from, long fromStart, Spool.Appended to) {
            CompletableFuture<Boolean> done = new CompletableFuture<>();
            synchronized (MapDbQueue.this) {
                QueueEntry e = stored(id);
                Staged st = null;
                if (e != null && from.equals(location(id))) {
                    // Reads, journal records and a removal's dead mark go by the copy from now on.
                    st = new Staged(e, to.location());
                    overlay.put(id, st);
                }
                // Queued either way: the copy's record must reach the index's watermark.
                submit(new Relocate(id, st == null ? null : from, fromStart, to, done, st));
            }
            return done;
        }

        @Override
        public boolean roomFor(long bytes) {
            Long free = compactionRoomForTest;
            try {
                long f = free != null ? free : freeSpace.free(System.nanoTime());
                if (f - bytes < minFreeSpace) {
                    return false;
                }
            } catch (IOException e) {
                return false;
            }
            freeSpace.wrote(bytes);
            return true;
        }

        @Override
        public long liveBytes(long n) {
            return index.read(() -> index.segmentLive.getOrDefault(n, 0L));
        }

        @Override
        public void reached(String point) {
            compactionHook.accept(point);
        }
    }

    /** Tests only: called at each named moment of a compaction (see SegmentCompactor.Host#reached). */
    volatile java.util.function.Consumer<String> compactionHook = p -> { };
    /** Tests only: the free bytes the compactor sees, instead of the file system's. */
    volatile Long compactionRoomForTest;

    /** Tests only: one compaction pass now, on the caller's thread. */
    SegmentCompactor.Pass compactForTest() throws IOException {
        return compactor.compactNow();
    }

    /** Tests only: where the entry's message bytes are now. */
    Spool.Location locationForTest(QueueId id) {
        return location(id);
    }

    /** Tests only: the spool's bytes on disk, and the live bytes the index counts in segments. */
    long[] spoolBytesForTest() throws IOException {
        long live = index.segmentLive.values().stream().mapToLong(Long::longValue).sum();
        return new long[] {spool.diskBytes(), live};
    }

    /** Hands an op to the committer, or fails it at once once the committer has stopped. */
    private void submit(Op op) {
        synchronized (ops) {
            if (stopped) {
                fail(op, storageError("queue is closed", null));
            } else {
                ops.add(op);
                if (urgent(op)) {
                    urgentWaiting = true;
                    ops.notifyAll();
                }
            }
        }
    }

    private static void fail(Op op, QueueException e) {
        if (op instanceof Put p) {
            p.done().completeExceptionally(e);
        } else if (op instanceof Remove r) {
            r.done().completeExceptionally(e);
        } else if (op instanceof Relocate m) {
            m.done().completeExceptionally(e);
        } else if (op instanceof Stop s) {
            s.done().complete(null);
        }
    }

    private static void await(CompletableFuture<Void> f) throws QueueException {
        try {
            f.get();
        } catch (ExecutionException e) {
            if (e.getCause() instanceof QueueException q) {
                throw q;
            }
            throw storageError("queue write failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw storageError("interrupted while waiting for the queue commit", e);
        }
    }

    @Override
    protected void checkWritable() throws QueueException {
        if (closed) {
            throw storageError("queue is closed", null);
        }
        if (!healthy) {
            throw storageError("queue store failed earlier; restart relaybox to recover it", null);
        }
    }

    private void checkSpace() throws QueueException {
        long free;
        try {
            free = freeSpace.free(System.nanoTime());
        } catch (IOException e) {
            throw storageError("cannot read free space of the queue filesystem", e);
        }
        if (free < minFreeSpace) {
            throw new QueueException(QueueException.Kind.STORAGE_FULL, "queue filesystem has " + free
                    + " bytes free, below queue_min_free_space " + minFreeSpace);
        }
    }

    /**
     * Whether the spool may zero {@code bytes} more of its current segment ahead of the appends:
     * only while that leaves more than {@link FreeSpace#MARGIN} above the reserve. Zeros are
     * disk in use, so near the reserve (a small or nearly full disk) none are written, and the
     * free-space guard never counts on them.
     */
    private boolean roomForZeros(long bytes) {
        try {
            return freeSpace.free(System.nanoTime()) - bytes >= minFreeSpace + FreeSpace.MARGIN;
        } catch (IOException e) {
            return false;
        }
    }

    private static QueueException storageError(String message, Throwable cause) {
        return new QueueException(QueueException.Kind.STORAGE_ERROR, message, cause);
    }

    /**
     * Tests only: dies like kill -9 would, as far as the files are concerned. Whatever the
     * committer had not written stays unwritten; channels are closed without a final commit.
     */
    void crashForTest() throws InterruptedException {
        closed = true;
        compactor.requestStop();
        largeWriters.shutdownNow();
        committer.interrupt();
        committer.join(10_000);
        // What the committer never took dies with the process; the compactor, waiting for it,
        // gives up without touching the spool.
        synchronized (ops) {
            stopped = true;
            List<Op> late = new ArrayList<>();
            ops.drainTo(late);
            late.forEach(op -> fail(op, storageError("crashed", null)));
        }
        compactor.join();
        syncWaiters.add(STOP_SYNC);
        spoolSyncer.join(10_000);
        db.getStore().close();
        spool.close();
    }

    /** "N commits, M writes (K per commit), T ms per commit": how well group commit is working. */
    public String commitStats() {
        long c = Math.max(1, commits.get());
        return String.format(java.util.Locale.ROOT,
                "%d spool fsyncs; index: %d commits, %d writes (%.1f per commit, %d coalesced), %.2f ms per commit",
                spoolSyncs.get(), commits.get(), committedOps.get(), committedOps.get() / (double) c,
                coalesced.get(), commitNanos.get() / 1e6 / c);
    }

    @Override
    public boolean healthy() {
        return healthy && !closed;
    }

    @Override
    public Optional<String> describe(QueueId id) {
        return get(id).map(EntryCodec::toText);
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        compactor.stop();
        largeWriters.shutdown();
        try {
            largeWriters.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        // The syncer first: accepts already waiting for their fsync are served, later ones fail.
        syncWaiters.add(STOP_SYNC);
        try {
            spoolSyncer.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        CompletableFuture<Void> stop = new CompletableFuture<>();
        submit(new Stop(stop));
        try {
            stop.get();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        } catch (ExecutionException e) {
            LOG.error("queue committer failed at close", e);
        }
        wakeAll();
        LOG.info("queue closed: {}", commitStats());
        if (!db.isClosed()) {
            db.close();
        }
        spool.close();
    }
}
