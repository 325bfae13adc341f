package relaybox.queue.mapdb;

import relaybox.queue.QueueId;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.LongPredicate;

/**
 * Owns the spool directory, where message bytes live, exactly as the client sent them, and the
 * segment files' records (layout: {@link SpoolRecord}). It does not know about entries or
 * states; the queue tells it which locations are still referenced.
 *
 * <p>Every accepted message is one ACCEPT record appended to the current <em>segment</em>
 * ({@code seg-NNNNNNNNNNNNNNNN}): the entry as the index stores it, then the message bytes of a
 * small message (at most {@link #SMALL} bytes, collected in memory while it arrives); a larger
 * one streams to its own file named by its queue id ({@link MessageWriter}), and its record
 * holds only the entry, whose location carries the file's CRC-32C. Outcomes and admin actions
 * append UPDATE and REMOVE records (the journal), and a removal marks the entry's ACCEPT record
 * dead in place. Segments roll over at {@link #SEGMENT_SIZE}. The {@link SegmentCompactor} copies the
 * live records out of mostly-dead segments (see {@link #compactable}) so that they can go.
 *
 * <p>Durability order, which the queue follows: record appended, then {@link #sync} (segments
 * and directory, one call for every accept waiting), then the acknowledgement; the index catches
 * up later ({@link #indexed}). A segment is deleted only when it is not being appended to, no
 * entry refers to its bytes and every record in it has reached the index. The current segment
 * is zeroed ahead of its appends by a {@link SegmentPreparer}.
 *
 * <p>The append path lives in {@link SpoolAppender} and the decision when a segment may go in
 * {@link SegmentLifetimes}; both work under this object's lock, which this class's methods take.
 */
final class Spool {

    /** Messages up to this size go into segments. */
    static final int SMALL = 256 << 10;
    static final long SEGMENT_SIZE = 64L << 20;
    static final long PREPARE_AHEAD = SegmentPreparer.PREPARE_AHEAD;
    /** Where unreferenced large-message files go when damage was seen at open: kept, never deleted. */
    static final String QUARANTINE_DIR = "quarantine";

    /** Encodes an entry for a given location of its bytes; the length must not depend on the location. */
    interface RecordEncoder {
        byte[] encode(SpoolLocation location);
    }

    private final Path dir;
    private final SpoolFiles files;
    final SegmentChannels channels = new SegmentChannels(this);
    private final DeadMarks marks = new DeadMarks(this);
    private final SegmentReferences refs = new SegmentReferences();
    private final SegmentLifetimes lifetimes = new SegmentLifetimes(this, refs, channels);
    /** Segments roll over at this size: {@link #SEGMENT_SIZE} but in tests. */
    private final long segmentSize;
    /** What is written and not yet synced; see {@link #sync}. */
    final UnsyncedWrites unsynced;
    private final SegmentPreparer preparer = new SegmentPreparer(this);
    private final MessageReader reader = new MessageReader(this);
    private final SpoolAppender appender;

    Spool(Path dir) throws IOException {
        this(dir, SEGMENT_SIZE);
    }

    Spool(Path dir, long segmentSize) throws IOException {
        this.segmentSize = segmentSize;
        this.dir = PrivateFiles.directory(dir);
        this.files = new SpoolFiles(this.dir);
        this.unsynced = new UnsyncedWrites(this, this.dir);
        this.appender = new SpoolAppender(this, channels, unsynced, refs, preparer, lifetimes);
    }

    long usableSpace() throws IOException {
        return files.usableSpace();
    }

    /** A writer for one new message; nothing is on disk until it spills or is appended. */
    MessageWriter writer(QueueId id) {
        return new MessageWriter(id, this, file(id));
    }

    /** Counts a committed (or recovered) entry's reference to its location. */
    synchronized void reference(SpoolLocation loc) {
        if (loc.keeps() >= 0) {
            refs.reference(loc.keeps());
        }
    }

    /** Counts {@code count} references to a segment at once: at open, from the index's counts. */
    synchronized void reference(long segment, long count) {
        refs.reference(segment, count);
    }

    /** Moves the references counted to segments by a recount's differences (the cross-check's). */
    synchronized void adjustReferences(Map<Long, Long> diff) {
        diff.forEach(refs::adjust);
    }

    /** Until {@link #endHold}: no segment is deleted or compacted (see {@link SegmentLifetimes#hold}). */
    synchronized void holdSegments() {
        lifetimes.hold();
    }

    /**
     * Ends the hold; with {@code sweep}, segments nothing needs any more are deleted now (without,
     * after damage, they stay until an open's orphan cleanup).
     */
    void endHold(boolean sweep) throws IOException {
        for (long n : lifetimes.release(sweep)) {
            Files.deleteIfExists(segment(n));
        }
    }

    /**
     * Drops a reference after the commit that removed its entry; deletes the file, or the segment
     * once nothing refers to it and nothing is appended to it any more.
     */
    void release(QueueId id, SpoolLocation loc) throws IOException {
        if (loc.inFile()) {
            Files.deleteIfExists(file(id));
        }
        releaseRecord(loc);
    }

    /**
     * Drops the reference {@code loc} holds on its segment, never touching a message file: after
     * the entry moved to a copy of its record (compaction), or a copy that was not used.
     */
    void releaseRecord(SpoolLocation loc) throws IOException {
        lifetimes.releaseRecord(loc);
    }

    /**
     * Makes every appended byte, dead mark and new directory entry durable: one call for all
     * waiting accepts. Concurrent callers are serialised, so none returns before the bytes it
     * appended are synced, whichever caller took them.
     */
    void sync() throws IOException {
        unsynced.sync();
    }

    /** Whether anything written is waiting for {@link #sync}. */
    synchronized boolean syncPending() {
        return unsynced.pending();
    }

    /** Marks that a new file's directory entry must be synced before the next commit. */
    synchronized void fileCreated() {
        unsynced.directoryChanged();
    }

    /**
     * Opens a message's bytes for sending, after checking them against their checksum: a small
     * message's record CRC, a large message's file CRC (when its record has one).
     *
     * @throws MessageReader.Damaged when the bytes do not match their checksum
     */
    InputStream open(QueueId id, SpoolLocation loc) throws IOException {
        if (loc.inFile()) {
            return reader.open(id, loc);
        }
        // Pinned while it is read (a small message is read whole into memory here): a compaction
        // that moves the message meanwhile deletes the file, but its channel stays open for this
        // read (see SegmentLifetimes#closeSegment).
        if (!pin(loc.segment())) {
            throw new NoSuchFileException(segment(loc.segment()).toString());
        }
        try {
            return reader.open(id, loc);
        } finally {
            unpin(loc.segment());
        }
    }

    /** A dead mark was written in segment {@code n}: synced with the next {@link #sync}. */
    void marked(long n) {
        unsynced.marked(n);
    }

    /** Counts a reader of segment {@code n} until {@link #unpin}; false when the segment is gone. */
    boolean pin(long n) throws IOException {
        return channels.pin(n);
    }

    void unpin(long n) {
        channels.unpin(n);
    }

    /** True when the bytes a location names are all there (checked at open). */
    boolean intact(QueueId id, SpoolLocation loc) throws IOException {
        return files.intact(id, loc);
    }

    /**
     * At open, after every entry has been referenced: deletes segments and files nothing refers
     * to (see {@link OrphanCleanup}) and starts a new segment. With {@code keepAll} (the index
     * is still to be cross-checked) nothing is deleted or moved.
     *
     * @param fileIds ids of entries whose bytes are in their own file
     */
    synchronized void removeOrphans(Collection<String> fileIds, boolean damageSeen, boolean keepAll)
            throws IOException {
        long highest = OrphanCleanup.run(dir, SpoolFiles.SEGMENT_PREFIX, refs::kept, fileIds, damageSeen, keepAll);
        long now = System.nanoTime();
        lifetimes.recovered(segmentNumbers(), now);
        appender.resumeAfter(highest);
        unsynced.directoryChanged();
    }

    /**
     * At the end of an open, once the watermarks of segments that are gone are dropped (a number
     * can come back, see {@link #removeOrphans}) and a cross-check holds the segments it will
     * read: starts the segment appends go to ({@link SpoolAppender#startAtOpen}).
     */
    synchronized void startAppending() {
        appender.startAtOpen();
    }

    /** Starts the thread that keeps the current segment zeroed ahead of its appends. */
    void startPreparing(LongPredicate roomFor) {
        preparer.start(roomFor);
    }

    boolean prepareSome(ByteBuffer zeros) throws IOException {
        return preparer.prepareSome(zeros);
    }

    /** Whether the preparer thread is running, for tests. */
    boolean preparerAlive() {
        return preparer.alive();
    }

    /** The current segment's zeroed bytes past its end, for tests. */
    synchronized long preparedAhead() {
        return preparer.ahead(appender.currentSize());
    }

    /** The segment being appended to, or null before the first append (caller holds this lock). */
    FileChannel appendableChannel() {
        return appender.appendableChannel();
    }

    long currentSegment() {
        return appender.currentSegment();
    }

    long currentSize() {
        return appender.currentSize();
    }

    /** Stops the preparer (it may be inside an fsync, which it finishes) and closes every segment. */
    void close() {
        preparer.stop();
        channels.closeAll();
        unsynced.synced.close();
    }

    Path file(QueueId id) {
        return files.file(id);
    }

    Path segment(long n) {
        return files.segment(n);
    }

    FileChannel channel(long n) throws IOException {
        return channels.channel(n);
    }

    long segmentSize() {
        return segmentSize;
    }

    /**
     * Appends one ACCEPT record to the current segment: the entry as {@code encoder} writes it for
     * the final location, then the message bytes of a small message ({@code body} null for a
     * message in its own file, whose location is {@code fileLocation}). The record is durable
     * after the next {@link #sync}; until the index has it ({@link #indexed}), recovery finds it
     * by scanning the segment.
     */
    synchronized SpoolAppended appendRecord(RecordEncoder encoder, byte[] body, int bodyLength, SpoolLocation fileLocation)
            throws IOException {
        return appender.appendRecord(encoder, body, bodyLength, fileLocation);
    }

    /**
     * Appends a journal record (UPDATE with an encoded entry, or REMOVE with a queue id): one
     * pwrite, no fsync of its own (a write survives kill -9 in the page cache; the next
     * {@link #sync} makes it survive power loss). Like an ACCEPT it counts as unindexed until
     * {@link #indexed}.
     */
    synchronized SpoolAppended appendJournal(SpoolRecord.Kind kind, byte[] inner) throws IOException {
        return appender.appendJournal(kind, inner);
    }

    /**
     * Marks the ACCEPT record of a small message dead in place ({@link DeadMarks#markDead});
     * false when the record was not found where the location says.
     */
    boolean markDead(SpoolLocation loc) throws IOException {
        return marks.markDead(loc);
    }

    /**
     * Where the index of segment {@code n} can say it is complete once the records
     * {@code committing} are written: the first record still not indexed, else the end.
     */
    synchronized long watermark(long n, Set<Long> committing) {
        return lifetimes.watermark(n, committing);
    }

    /** After the index commit that holds them: these records no longer need the segment scanned. */
    void indexed(long n, Set<Long> starts) throws IOException {
        lifetimes.indexed(n, starts);
    }

    /** Scans segment {@code n} from {@code from} (see {@link SegmentScanner}); returns where the scan ended. */
    long scan(long n, long from, SegmentScanner.Visitor v) throws IOException {
        return SegmentScanner.scan(segment(n), from, unsynced.synced.syncedAtOpen(n), v);
    }

    /** Numbers of the segment files present, lowest first. */
    List<Long> segmentNumbers() throws IOException {
        return files.segmentNumbers();
    }

    /** Marks the ACCEPT record starting at {@code start} of segment {@code n} dead ({@link DeadMarks#markDeadAt}). */
    boolean markDeadAt(long n, long start) throws IOException {
        return marks.markDeadAt(n, start);
    }

    /**
     * Segments a compaction may take, with when they were closed (System.nanoTime): not being
     * appended to, every record indexed, some entry still referring to them.
     */
    synchronized Map<Long, Long> closedSegments() {
        return lifetimes.closedSegments();
    }

    /** The length of segment {@code n} on disk, or -1 when it is gone. */
    long segmentLength(long n) {
        return files.segmentLength(n);
    }

    /** Bytes of every segment and message file in the spool, as the file system counts their length. */
    long diskBytes() throws IOException {
        return files.diskBytes();
    }
}
