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
import java.io.OutputStream;
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

    private sealed interface Op permits Put, Remove, Stop { }

    /**
     * @param segment, recordStart where the spool record of this write is (the ACCEPT of a new
     *                 entry, or the journal's UPDATE); -1 when none was written
     * @param accepted a newly accepted entry
     */
    private record Put(QueueEntry entry, Spool.Location location, long segment, long recordStart, boolean accepted,
                       CompletableFuture<Void> done, boolean urgent) implements Op { }

    /**
     * @param segment, recordStart where the journal's REMOVE record is; -1 when none was written
     * @param urgent someone waits for this write (an admin action): commit without delay
     */
    private record Remove(QueueEntry entry, long segment, long recordStart, CompletableFuture<Void> done,
                          boolean urgent) implements Op { }

    /**
     * Writes nobody waits for (new entries, already durable in the spool; outcomes) are gathered
     * for up to this long into one index commit: each MapDB commit costs two fsyncs and a
     * write-ahead log file created and deleted, and nothing gains from committing sooner.
     */
    private static final long INDEX_INTERVAL_NANOS = java.util.concurrent.TimeUnit.MILLISECONDS.toNanos(100);
    private long lastCommitNanos;

    private record Stop(CompletableFuture<Void> done) implements Op { }

    private final DB db;
    private final BTreeMap<String, byte[]> records;
    private final BTreeMap<String, byte[]> quarantine;
    private final Spool spool;
    private final long minFreeSpace;
    private final FreeSpace freeSpace;
    private final LinkedBlockingQueue<Op> ops = new LinkedBlockingQueue<>();
    /** Where each entry's message bytes are; written only with the record that refers to them. */
    private final Map<QueueId, Spool.Location> locations = new ConcurrentHashMap<>();
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
    private volatile boolean closed;
    /** Set by the committer when it exits; guarded by {@code ops}. */
    private boolean stopped;
    /** An urgent write is in {@link #ops}: {@link #gather} stops waiting. Guarded by ops. */
    private boolean urgentWaiting;

    private MapDbQueue(DB db, Spool spool, long minFreeSpace, RetrySchedule schedule, Clock clock) {
        super(clock, schedule);
        this.db = db;
        this.spool = spool;
        this.minFreeSpace = minFreeSpace;
        this.freeSpace = new FreeSpace(spool::usableSpace, minFreeSpace);
        this.records = db.treeMap("entries", Serializer.STRING, Serializer.BYTE_ARRAY).valuesOutsideNodesEnable().createOrOpen();
        this.quarantine = db.treeMap("quarantine", Serializer.STRING, Serializer.BYTE_ARRAY).createOrOpen();
        // Per spool segment: every record before this offset has reached the index (entries).
        this.watermarks = db.treeMap("watermarks", Serializer.LONG, Serializer.LONG).createOrOpen();
        this.committer = new Thread(this::commitLoop, "queue-committer");
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
        Spool spool;
        try {
            PrivateFiles.directory(dir);
            spool = new Spool(dir.resolve("spool"));
        } catch (IOException e) {
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "cannot create queue directory " + dir
                    + ": " + e, e);
        }
        MapDbQueue q;
        try {
            q = openIndex(dir, spool, minFreeSpace, schedule, clock, false);
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
                spool = new Spool(dir.resolve("spool"));
            } catch (IOException io) {
                throw new QueueException(QueueException.Kind.STORAGE_ERROR, "cannot open the spool in " + dir
                        + ": " + io, io);
            }
            q = openIndex(dir, spool, minFreeSpace, schedule, clock, true);
        }
        q.committer.start();
        q.spoolSyncer.setDaemon(true);
        q.spoolSyncer.start();
        q.spool.startPreparing(q::roomForZeros);
        return q;
    }

    private static MapDbQueue openIndex(Path dir, Spool spool, long minFreeSpace, RetrySchedule schedule, Clock clock,
                                        boolean rebuilding)
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
            q = new MapDbQueue(db, spool, minFreeSpace, schedule, clock);
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

    /** Brings the index up to date with the spool and loads it (see {@link Recovery}). */
    private void recover(boolean rebuilding) throws IOException {
        Recovery r = new Recovery(records, quarantine, watermarks, spool, clock.instant());
        // A rebuilt index knew nothing of what the old one referred to: nothing is deleted.
        r.damageSeen = rebuilding;
        r.run((e, loc) -> {
            spool.reference(loc);
            locations.put(e.id(), loc);
            index(e);
        });
        quarantinedAtOpen.addAll(r.quarantined);
        db.commit();
        if (r.replayed > 0) {
            LOG.warn("{} accepted messages were recovered from the spool (the index had not been written"
                    + " before the stop)", r.replayed);
        }
        spool.removeOrphans(r.ownFiles, r.damageSeen);
        // A watermark belongs to one segment file: once the file is gone, its number may be used
        // again (numbering goes on from the highest file left), and an old watermark would make
        // the next recovery skip the new file's first records, acknowledged mail included.
        Set<Long> present = new HashSet<>(spool.segmentNumbers());
        for (Long seg : List.copyOf(watermarks.keySet())) {
            if (!present.contains(seg)) {
                watermarks.remove(seg);
            }
        }
        db.commit();
        spool.sync();
        LOG.info("queue opened: {} entries, {} quarantined at open", locations.size(), quarantinedAtOpen.size());
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

    /**
     * One message on its way in. It counts in {@link #receiving} from its first body byte to its
     * accept or discard: only then is its end near (a body of a few KiB arrives in one or two
     * reads). Counted from MAIL, as it first was, ten sessions kept the count above zero nearly
     * always, and every spool fsync waited out the whole gather time for messages still three
     * round trips away from their final dot.
     */
    private static final class SpoolIncoming implements Incoming {
        private static final int WAITING = 0;
        private static final int RECEIVING = 1;
        private static final int FINISHED = 2;

        final MessageWriter writer;
        private final AtomicInteger receiving;
        private final AtomicInteger phase = new AtomicInteger(WAITING);
        private final OutputStream body;

        SpoolIncoming(MessageWriter writer, AtomicInteger receiving) {
            this.writer = writer;
            this.receiving = receiving;
            this.body = new OutputStream() {
                @Override
                public void write(int b) throws IOException {
                    started();
                    writer.out.write(b);
                }

                @Override
                public void write(byte[] b, int off, int len) throws IOException {
                    started();
                    writer.out.write(b, off, len);
                }

                @Override
                public void flush() throws IOException {
                    writer.out.flush();
                }
            };
        }

        private void started() {
            if (phase.get() == WAITING && phase.compareAndSet(WAITING, RECEIVING)) {
                receiving.incrementAndGet();
            }
        }

        boolean finished() {
            return phase.get() == FINISHED;
        }

        /** Marks the end of receiving, once: accepted or discarded. */
        void finish() {
            if (phase.getAndSet(FINISHED) == RECEIVING) {
                receiving.decrementAndGet();
            }
        }

        @Override
        public QueueId id() {
            return writer.id;
        }

        @Override
        public OutputStream body() {
            return body;
        }

        @Override
        public void discard() {
            if (!finished()) {
                finish();
                writer.discard(null);
            }
        }
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
                locations.put(e.id(), where);
                // The index write is queued before the entry can be leased, so its removal can
                // never reach the committer ahead of it.
                submit(new Put(e, where, a.segment(), a.recordStart(), true, new CompletableFuture<>(), false));
                index(e);
                return e;
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
     * Opens the message for sending after checking its bytes against their checksum. Bytes that
     * do not match are never handed out: the entry is marked damaged, the caller gets an
     * IOException, and the outcome it then records quarantines the entry instead (see
     * {@link #recordOutcome}); an entry not being sent is quarantined at once.
     */
    @Override
    public InputStream openMessage(QueueId id) throws IOException {
        QueueEntry e = get(id).orElse(null);
        Spool.Location loc = locations.get(id);
        if (e == null || loc == null) {
            throw new IOException("no queue entry " + id);
        }
        InputStream body;
        try {
            body = spool.open(id, loc);
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
        QueueEntry q = e.quarantined(why);
        index(q);
        try {
            store(q, false);
        } catch (QueueException ex) {
            onAsyncStoreFailure(q, ex);
        }
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
        QueueEntry cur = get(id).orElse(null);
        if (cur == null) {
            return Optional.empty();
        }
        QueueEntry back = cur.state() == EntryState.SENDING ? cur.returned() : cur;
        quarantine(back, why);
        return get(id);
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

    @Override
    protected void store(QueueEntry entry, boolean wait) throws QueueException {
        checkWritable();
        CompletableFuture<Void> done = new CompletableFuture<>();
        Spool.Location loc = locations.get(entry.id());
        Spool.Appended j = journal(entry, loc, false);
        submit(new Put(entry, loc, j == null ? -1 : j.segment(), j == null ? -1 : j.recordStart(), false, done, wait));
        if (wait) {
            await(done);
        }
    }

    @Override
    protected void drop(QueueEntry entry, boolean wait) throws QueueException {
        checkWritable();
        CompletableFuture<Void> done = new CompletableFuture<>();
        Spool.Location loc = locations.get(entry.id());
        markDead(entry, loc);
        Spool.Appended j = journal(entry, loc, true);
        submit(new Remove(entry, j == null ? -1 : j.segment(), j == null ? -1 : j.recordStart(), done, wait));
        if (wait) {
            await(done);
        }
    }

    @Override
    protected void onAsyncStoreFailure(QueueEntry entry, QueueException e) {
        LOG.error("{} could not be written to the queue store: {}", entry.id(), e.getMessage());
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

    /** One group commit: every op waiting shares one spool-directory fsync and one MapDB commit. */
    private void commitBatch(List<Op> batch) {
        List<CompletableFuture<Void>> done = new ArrayList<>();
        List<QueueEntry> removed = new ArrayList<>();
        try {
            if (!healthy) {
                throw new IOException("queue store failed earlier; restart relaybox to recover it");
            }
            Map<Long, Set<Long>> newRecords = new java.util.HashMap<>();
            // Only each entry's last write in the batch reaches MapDB: a message accepted and
            // delivered within one batch costs no index write at all, only the watermark that
            // moves past its spool record.
            Map<QueueId, Op> last = new java.util.HashMap<>();
            Set<QueueId> createdHere = new HashSet<>();
            for (Op op : batch) {
                if (op instanceof Put p) {
                    QueueId id = p.entry().id();
                    if (p.recordStart() >= 0) {
                        // Counted for the watermark even if dropped below: otherwise the segment
                        // would be scanned from this record at every open.
                        newRecords.computeIfAbsent(p.segment(), k -> new HashSet<>()).add(p.recordStart());
                    }
                    if (p.accepted()) {
                        createdHere.add(id);
                    }
                    if (p.location() == null || last.get(id) instanceof Remove || !locations.containsKey(id)) {
                        // Removed meanwhile (delivered or deleted; ids are never reused). A write
                        // made outside the queue lock, such as retryAll's, can arrive after the
                        // removal: written, it would bring the entry back into the index after its
                        // message file is gone, and the next open would quarantine it.
                        done.add(p.done());
                        continue;
                    }
                    last.put(p.entry().id(), p);
                    done.add(p.done());
                } else if (op instanceof Remove r) {
                    if (r.recordStart() >= 0) {
                        newRecords.computeIfAbsent(r.segment(), k -> new HashSet<>()).add(r.recordStart());
                    }
                    last.put(r.entry().id(), r);
                    removed.add(r.entry());
                    done.add(r.done());
                }
            }
            if (done.isEmpty()) {
                return;
            }
            int writes = 0;
            for (Map.Entry<QueueId, Op> w : last.entrySet()) {
                if (w.getValue() instanceof Put p) {
                    records.put(w.getKey().value(), EntryCodec.encode(p.entry(), p.location()));
                    writes++;
                } else if (!createdHere.contains(w.getKey())) {
                    records.remove(w.getKey().value());
                    writes++;
                }
            }
            coalesced.addAndGet(done.size() - writes);
            for (Map.Entry<Long, Set<Long>> w : newRecords.entrySet()) {
                watermarks.put(w.getKey(), spool.watermark(w.getKey(), w.getValue()));
            }
            long started = System.nanoTime();
            if (spool.syncPending()) {
                // Journal records and dead marks are made durable no later than the index that
                // they are replayed into: after a power loss the spool never knows less than the
                // index about what was delivered. (Usually the spool-sync thread got there first.)
                spool.sync();
            }
            db.commit();
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
        for (QueueEntry e : removed) {
            Spool.Location loc = locations.remove(e.id());
            try {
                if (loc != null) {
                    spool.release(e.id(), loc);
                }
            } catch (IOException ex) {
                LOG.warn("{} spool file not deleted ({}); it is removed at the next open", e.id(), ex.toString());
            }
        }
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

    private void checkWritable() throws QueueException {
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
        largeWriters.shutdownNow();
        committer.interrupt();
        committer.join(10_000);
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
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
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
