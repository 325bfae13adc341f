package relaybox.queue.mapdb;

import org.mapdb.BTreeMap;
import org.mapdb.DB;
import org.mapdb.Serializer;
import relaybox.queue.AbstractQueue;
import relaybox.queue.CrossCheckProgress;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.function.Consumer;
import java.util.function.Predicate;


/**
 * The durable queue: owns the MapDB store ({@code queue.db}) and the spool directory, and is the
 * only code that opens either; it wires the parts that do the work and answers the {@link
 * relaybox.queue.Queue} API. An accepted message is a self-describing record in a spool segment
 * ({@link Spool}, written by the {@link Acceptor}); an accept returns after one fsync that every
 * accept waiting at the time shares ({@link SpoolSyncer}). MapDB is the index over those records,
 * written behind by the {@link IndexCommitter}; reads see it through the {@link IndexView};
 * outcomes are journalled in the spool first ({@link OutcomeJournal}); the open and its recovery
 * are the {@link StoreOpener}'s. The writing parts are built, started and stopped by
 * {@link QueueWorkers}.
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

    /** A quarantined record found at open, for the daemon's mail log. */
    public record Quarantined(String id, String reason) { }

    /**
     * The most writes the committer may have outstanding before new accepts wait for it: what
     * keeps the overlay, and with it the heap, bounded when mail arrives faster than the index
     * can take it (MapDB's puts slow down as the index grows). About 1 KB of heap each.
     */
    static final int MAX_STAGED = 8_192;

    final DB db;
    final IndexView view;
    final Quarantines quarantines;
    final Spool spool;
    /** Per spool segment: every record before this offset has reached the index (entries). */
    final BTreeMap<Long, Long> watermarks;
    final SpaceGuard space;
    final QueueWorkers workers;
    private final IndexDamage damage;
    final QueueHealth health = new QueueHealth();
    private final CheckedReads reads;

    /** What tests reach in by; every default does nothing. */
    final TestHooks hooks;

    MapDbQueue(DB db, Spool spool, long minFreeSpace, RetrySchedule schedule, Clock clock,
               SegmentCompactor.Settings compaction, Path dir) {
        super(clock, schedule);
        this.damage = new IndexDamage(dir);
        damage.onDamage(health::indexDamaged);
        org.mapdb.Store store = db.getStore();
        damage.closedWhen(() -> db.isClosed() || store.isClosed());
        this.db = db;
        this.spool = spool;
        this.space = new SpaceGuard(spool, minFreeSpace);
        this.view = new IndexView(new IndexStore(db, damage));
        this.quarantines = new Quarantines(db);
        this.watermarks = db.treeMap("watermarks", Serializer.LONG, Serializer.LONG).createOrOpen();
        this.workers = new QueueWorkers(this, db, view, spool, watermarks, space, clock, compaction, dir);
        this.reads = new CheckedReads(this, view, spool);
        this.hooks = new TestHooks(workers, view, spool);
    }

    /**
     * Opens (or creates) the queue in {@code dir} and recovers it: see {@link StoreOpener} for
     * the replay, the quarantine, the rebuild of a damaged index from the spool (duplicates,
     * never loss) and the background cross-check after an unclean stop ({@link #crossCheck()}).
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
        return StoreOpener.open(dir, minFreeSpace, schedule, clock, compaction, segmentSize);
    }

    /** After recovery: the threads that write go, then the cross-check if the open left one. */
    void startThreads() {
        workers.start();
    }

    /** After recovery: the counts start from the index's. */
    void opened(Map<EntryState, Long> counts) {
        initCounts(counts);
    }

    Clock clock() {
        return clock;
    }

    /**
     * Completes when the cross-check after an unclean stop has run (at once when none was
     * needed: false), with true; exceptionally when it found the index damaged (see
     * {@link #onUntrusted}). For health reports and benchmarks.
     */
    public CompletableFuture<Boolean> crossCheck() {
        return workers.crossCheck == null ? CompletableFuture.completedFuture(false)
                : workers.crossCheck.finished().copy();
    }

    @Override
    public CrossCheckProgress crossCheckProgress() {
        CrossCheck c = workers.crossCheck;
        return c == null ? CrossCheckProgress.NONE : c.progress();
    }

    /** Records quarantined while opening the store, for the daemon to log. */
    public List<Quarantined> quarantinedAtOpen() {
        return List.copyOf(quarantines.atOpen);
    }

    /** Raw records that did not decode, by key. */
    public Map<String, byte[]> quarantinedRecords() {
        return Map.copyOf(quarantines.raw);
    }

    /** MapDB commits made since open (to see group commit at work). */
    public long commitCount() {
        return workers.committer.batches.commits.get();
    }

    // ---- accept -------------------------------------------------------------------------------

    @Override
    public Incoming receive() throws QueueException {
        return workers.acceptor.receive();
    }

    @Override
    public QueueEntry accept(Incoming incoming, Envelope envelope, String addedHeaders) throws QueueException {
        return workers.acceptor.accept(incoming, envelope, addedHeaders);
    }

    @Override
    public CompletableFuture<QueueEntry> acceptAsync(Incoming incoming, Envelope envelope, String addedHeaders) {
        return workers.acceptor.acceptAsync(incoming, envelope, addedHeaders);
    }

    /**
     * A durable ACCEPT record becomes an entry: its index write is queued before the entry can
     * be leased, so its removal can never reach the committer ahead of it.
     */
    QueueEntry admitted(QueueEntry e, SpoolAppended a) {
        return admit(e, () -> stage(e, a.location(), a.segment(), a.recordStart()));
    }

    /**
     * An entry the index lost, found by the cross-check: queued again as if just accepted, if
     * {@code lost} still holds under the lock every removal journals under.
     */
    synchronized boolean rescue(QueueEntry e, SpoolLocation loc, java.util.function.BooleanSupplier lost) {
        if (!lost.getAsBoolean()) {
            return false;
        }
        // Counted as an accept counts its record: the segment stays until the entry is removed.
        spool.reference(loc);
        admit(e, () -> stage(e, loc, -1, -1));
        return true;
    }

    private QueueEntry stage(QueueEntry e, SpoolLocation loc, long segment, long recordStart) {
        IndexOp.Staged st = new IndexOp.Staged(e, loc);
        view.overlay.put(e.id(), st);
        workers.committer.submit(new IndexOp.Put(e, loc, segment, recordStart, new CompletableFuture<>(), false, st));
        return e;
    }

    /** The cross-check recounted the entries: see {@link AbstractQueue#corrected}. */
    void recounted(Map<EntryState, Long> diff, boolean reread) {
        corrected(diff, reread);
    }

    /** Holds the acknowledgements of the accepts just synced while the committer is far behind. */
    void awaitCommitter() {
        view.awaitBelow(MAX_STAGED, health::healthy);
    }

    /**
     * Flow control for bulk changes ({@code retryAll}): waits while the committer is more than
     * half of {@link #MAX_STAGED} writes behind, so intake and bulk actions run at the index's
     * pace instead of filling the heap. In the normal case this returns at once.
     */
    @Override
    protected void awaitRoom() {
        view.awaitBelow(MAX_STAGED / 2, health::healthy);
    }

    // ---- sending: checked reads, quarantine ---------------------------------------------------

    /**
     * Opens the message for sending after checking its bytes against their checksum (see
     * {@link CheckedReads}); bytes that do not match are never handed out.
     */
    @Override
    public InputStream openMessage(QueueId id) throws IOException {
        return reads.open(id);
    }

    /**
     * Called once, with why, if the store turns untrusted while the queue runs (the index turns
     * out damaged, or a commit or fsync fails), at once if it already has: the queue refuses
     * every write from then on, and the next open recovers from the spool, so the owner should
     * stop and be started again.
     */
    public void onUntrusted(Consumer<String> listener) {
        health.onUntrusted(listener);
    }

    /** Called for every entry quarantined while the queue runs (a message that failed its checksum). */
    public void onQuarantine(Consumer<Quarantined> listener) {
        quarantines.listen(listener);
    }

    /** Quarantines an entry not being sent whose message failed its checksum, and reports it. */
    void quarantineNow(QueueId id, String why) {
        quarantineEntry(id, why);
        quarantines.report(new Quarantined(id.value(), why));
    }

    /**
     * An attempt whose message failed its checksum ends in quarantine, whatever the session
     * reported (it aborted the transaction, so its outcome is a temporary failure that would
     * otherwise be retried forever). The outcome's journal record goes by the location the
     * message was opened at ({@link IndexView#locationForSending}), forgotten once it is written.
     */
    @Override
    public Optional<QueueEntry> recordOutcome(QueueId id, Map<String, DeliveryOutcome> outcomes, Instant now) {
        String why = reads.damaged.remove(id);
        Optional<QueueEntry> q = why == null ? super.recordOutcome(id, outcomes, now) : quarantineEntry(id, why);
        view.sent(id);
        if (why != null) {
            q.ifPresent(e -> quarantines.report(new Quarantined(id.value(), why)));
        }
        return q;
    }

    /** The lease ends without an outcome: the location remembered for sending is forgotten. */
    @Override
    public void returnLease(QueueId id) {
        super.returnLease(id);
        view.sent(id);
    }

    // ---- the store behind AbstractQueue -------------------------------------------------------

    @Override
    protected QueueEntry stored(QueueId id) {
        return view.stored(id);
    }

    @Override
    protected List<QueueEntry> storedDue(boolean fresh, Due after, int max) {
        return after == null ? view.due(fresh, 0, null, max) : view.due(fresh, after.at(), after.id(), max);
    }

    @Override
    protected void scanStored(Set<EntryState> states, QueueId after, Predicate<QueueEntry> visitor) {
        view.scan(states, after, visitor);
    }

    @Override
    protected Optional<QueueEntry> firstStored(EntryState state) {
        return view.first(state);
    }

    /** Journals the change (see {@link OutcomeJournal}), then hands it to the committer. */
    @Override
    protected CompletableFuture<Void> write(QueueEntry entry, boolean urgent) {
        return workers.journal.write(entry, urgent);
    }

    @Override
    protected CompletableFuture<Void> erase(QueueEntry entry, boolean urgent) {
        return workers.journal.erase(entry, urgent);
    }

    // ---- health -------------------------------------------------------------------------------

    @Override
    protected void checkWritable() throws QueueException {
        health.checkWritable();
    }

    @Override
    public boolean healthy() {
        return health.healthy();
    }

    @Override
    public Optional<String> describe(QueueId id) {
        return get(id).map(EntryCodec::toText);
    }

    /** "N spool fsyncs; index: N commits, M writes (K per commit), T ms per commit": how well group commit works. */
    public String commitStats() {
        return workers.commitStats();
    }

    // ---- tests only ---------------------------------------------------------------------------

    /**
     * Dies like kill -9 would, as far as the files are concerned. Whatever the committer had not
     * written stays unwritten; channels are closed without a final commit.
     */
    void crashForTest() throws InterruptedException {
        health.close();
        workers.crash();
    }

    @Override
    public void close() {
        if (health.close()) {
            workers.close(this::wakeAll, health::storeHealthy);
        }
    }
}
