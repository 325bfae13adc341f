package relaybox.queue.mapdb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;

/**
 * Owns where the next spool record goes: the segment being appended to, its length, rolling over
 * to a new segment, and the buffer a record is assembled in. Split out of {@link Spool} so that
 * the append path reads on its own; it keeps no lock of its own because every append already
 * holds the spool's (callers do), which also guards the current segment that
 * {@link SegmentLifetimes} reads.
 */
final class SpoolAppender {

    private static final Logger LOG = LoggerFactory.getLogger(MapDbQueue.class);

    private final Spool spool;
    private final SegmentChannels channels;
    private final UnsyncedWrites unsynced;
    private final SegmentReferences refs;
    private final SegmentPreparer preparer;
    private final SegmentLifetimes lifetimes;
    private long current = -1;
    private long currentSize;
    /**
     * Set at open: the next segment is started ({@link #startAtOpen}, or else by the next append),
     * never one recovered from disk.
     */
    private boolean rollOver;
    /** See {@link #recordBuffer}; guarded by the spool's lock. */
    private ByteBuffer recordBuffer = ByteBuffer.allocateDirect(64 << 10);

    SpoolAppender(Spool spool, SegmentChannels channels, UnsyncedWrites unsynced, SegmentReferences refs,
            SegmentPreparer preparer, SegmentLifetimes lifetimes) {
        this.spool = spool;
        this.channels = channels;
        this.unsynced = unsynced;
        this.refs = refs;
        this.preparer = preparer;
        this.lifetimes = lifetimes;
    }

    /**
     * At open: a recovered segment is never appended to, since its size on disk is not known here,
     * and it may just have been deleted as unreferenced. {@link #startAtOpen} (or else the first
     * append) starts {@code highest + 1}.
     */
    void resumeAfter(long highest) {
        current = highest;
        rollOver = true;
    }

    /**
     * At the end of an open: starts {@code highest + 1} now rather than at the first append, so
     * that the run's first outcome or accept does not wait for the file's creation (1.8 ms on
     * average for an outcome, 3.1 ms for an accept, measured in the crash loop, where the
     * outcome's wait also held the queue's lock and every other session's outcome behind it),
     * and the preparer zeroes it before mail flows. If the file cannot be created now, the first
     * append tries again, and its caller gets the error.
     */
    void startAtOpen() {
        if (!rollOver) {
            return;
        }
        long before = current;
        try {
            // The segment before is not closed here, as an append would: the open counted every
            // segment it found as closed (SegmentLifetimes#recovered), and which of them go is
            // its decision, which keeps them all when damage was seen (StoreDamageCampaignTest,
            // seed 34075857278819).
            openNextSegment();
        } catch (IOException e) {
            current = before;
            rollOver = true;
            LOG.warn("cannot start spool segment {} at the open ({}); the first write tries again", before + 1,
                    e.toString());
        }
    }

    /** The segment being appended to, or null before the first append. */
    FileChannel appendableChannel() {
        return current < 0 || rollOver ? null : channels.open(current);
    }

    long currentSegment() {
        return current;
    }

    long currentSize() {
        return currentSize;
    }

    /** See {@link Spool#appendRecord}. */
    SpoolAppended appendRecord(Spool.RecordEncoder encoder, byte[] body, int bodyLength, SpoolLocation fileLocation)
            throws IOException {
        int entryLength = encoder.encode(body == null ? fileLocation : new SpoolLocation(0, 0, bodyLength)).length;
        int size = SpoolRecord.HEADER + 4 + entryLength + (body == null ? 0 : bodyLength);
        long start = startOfAppend(size);
        SpoolLocation loc = body == null ? fileLocation.recordIn(current)
                : new SpoolLocation(current, start + SpoolRecord.HEADER + 4 + entryLength, bodyLength);
        byte[] entry = encoder.encode(loc);
        if (entry.length != entryLength) {
            throw new IllegalStateException("entry record length depends on its location");
        }
        ByteBuffer record = recordBuffer(size);
        SpoolRecord.put(record, SpoolRecord.Kind.ACCEPT, entry, body, bodyLength);
        write(record, start);
        // Counted now, not at commit, so the segment cannot be deleted under an accept in
        // flight; a failed accept gives the reference back through release().
        refs.reference(current);
        return new SpoolAppended(current, start, loc);
    }

    /** See {@link Spool#appendJournal}. */
    SpoolAppended appendJournal(SpoolRecord.Kind kind, byte[] inner) throws IOException {
        int size = SpoolRecord.size(inner, 0);
        long start = startOfAppend(size);
        ByteBuffer record = recordBuffer(size);
        SpoolRecord.put(record, kind, inner, null, 0);
        write(record, start);
        return new SpoolAppended(current, start, null);
    }

    /** Where a record of {@code size} bytes goes: the end of the current segment, rolled over if full. */
    private long startOfAppend(int size) throws IOException {
        if (channels.closed()) {
            throw new java.nio.channels.ClosedChannelException();
        }
        if (current < 0 || rollOver || currentSize + size > spool.segmentSize()) {
            startSegment();
        }
        return currentSize;
    }

    private void write(ByteBuffer record, long start) throws IOException {
        record.flip();
        FileChannel ch = channels.open(current);
        long pos = start;
        while (record.hasRemaining()) {
            pos += ch.write(record, pos);
        }
        currentSize = pos;
        unsynced.appended(current, pos);
        refs.appended(current, start);
        preparer.appended(currentSize);
    }

    /**
     * The buffer a record is assembled in, cleared, for {@code length} bytes. One buffer (appends
     * hold the spool's lock) and direct, so a record is one pwrite from it: header and body as
     * two writes from heap arrays cost a second system call and a copy into the JDK's temporary
     * direct buffer each.
     */
    private ByteBuffer recordBuffer(int length) {
        if (recordBuffer.capacity() < length) {
            recordBuffer = ByteBuffer.allocateDirect(Math.max(length, 2 * recordBuffer.capacity()));
        }
        return recordBuffer.clear().limit(length);
    }

    private void startSegment() throws IOException {
        // After an open whose own start failed (startAtOpen), the segment before is a recovered
        // one: like startAtOpen, leave it to the open, which keeps it when damage was seen.
        boolean recovered = rollOver;
        long old = openNextSegment();
        if (old >= 0 && !recovered) {
            lifetimes.closed(old);
        }
    }

    /** Creates and opens the next segment for appends; returns the one before (-1: none). */
    private long openNextSegment() throws IOException {
        rollOver = false;
        long old = current;
        current++;
        // A number that comes back (no segment left at an open) must not inherit its old length.
        unsynced.synced.write(current, 0);
        FileChannel ch = PrivateFiles.createNew(spool.segment(current), StandardOpenOption.READ, StandardOpenOption.WRITE);
        channels.created(current, ch);
        currentSize = 0;
        preparer.segmentStarted();
        unsynced.directoryChanged();
        return old;
    }
}
