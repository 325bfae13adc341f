package relaybox.queue.mapdb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueId;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.LongPredicate;

/**
 * Owns the spool directory, where message bytes live, exactly as the client sent them. It does
 * not know about entries or states; the queue tells it which locations are still referenced.
 *
 * <p>Every accepted message is one self-describing record appended to the current
 * <em>segment</em> file ({@code seg-NNNNNNNNNNNNNNNN}): header (magic, length, CRC-32C), the entry
 * as the index stores it, then the message bytes. A message of at most {@link #SMALL} bytes is
 * collected in memory while it arrives and its bytes go into the record; a larger one streams to
 * its own file named by its queue id, fsynced by its writer, and its record holds only the entry,
 * so no message is held in memory beyond {@link #SMALL} bytes. Segments roll over at
 * {@link #SEGMENT_SIZE}.
 *
 * <p>Durability order, which the queue follows: record appended, then {@link #sync} (segments
 * and directory, one call for every accept waiting), then the acknowledgement; the index catches
 * up later ({@link #indexed}). A segment is deleted only when it is not being appended to, no
 * entry refers to its bytes and every record in it has reached the index.
 *
 * <p>The current segment is kept zeroed and synced {@link #PREPARE_AHEAD} bytes past its end
 * by a preparer thread ({@link #startPreparing}), as PostgreSQL zero-fills its WAL segments:
 * an fsync after an append that grows the file must also commit the file system's journal
 * (new size, new blocks), one after an overwrite of allocated blocks flushes only the data.
 * Measured on this project's 2-core machine, 4 KiB writes each followed by fdatasync: 410-618
 * us p50 and 210-273 us of system CPU per write when appending, 165-189 us and 77-83 us when
 * overwriting zeros. Recovery needs nothing new: zeros fail the record magic, so a scan ends at
 * the last record as it does at the end of a file.
 */
final class Spool {

    private static final Logger LOG = LoggerFactory.getLogger(Spool.class);

    /** Messages up to this size go into segments. */
    static final int SMALL = 256 << 10;
    static final long SEGMENT_SIZE = 64L << 20;
    private static final String SEGMENT_PREFIX = "seg-";

    /** How far past the current segment's last record its bytes are kept zeroed and synced. */
    static final long PREPARE_AHEAD = 4L << 20;
    /**
     * Zeros are written this much at a time under the spool's lock, which appends wait for:
     * 256 KiB took 57 us p50, 1 MiB 358 us p50 and 2.6 ms p90 (page-cache allocation).
     */
    static final int PREPARE_CHUNK = 256 << 10;
    /** The preparer syncs its zeros after this many bytes: one journal commit per MiB of mail. */
    private static final int PREPARE_SYNC_EVERY = 1 << 20;

    /** "RBX1": the first four bytes of every record in a segment. */
    static final int RECORD_MAGIC = 0x52425831;
    /** Magic, length of what follows the header, CRC-32C of what follows the header. */
    static final int RECORD_HEADER = 12;

    /** Where an appended record landed, and where its message bytes are. */
    record Appended(long segment, long recordStart, Location location) { }

    /** Encodes an entry for a given location of its bytes; the length must not depend on the location. */
    interface RecordEncoder {
        byte[] encode(Location location);
    }

    /** Where one message's bytes are: a range of a segment, or a whole file when segment is -1. */
    record Location(long segment, long offset, long length) {
        static Location file(long length) {
            return new Location(-1, 0, length);
        }

        boolean inFile() {
            return segment < 0;
        }
    }

    private final Path dir;
    /** Null where the JDK finds no mount entry for the directory (a plain chroot, some containers). */
    private final FileStore store;
    private final Map<Long, FileChannel> segments = new HashMap<>();
    private final Map<Long, Integer> references = new HashMap<>();
    private long current = -1;
    private long currentSize;
    /** Set at open: the next append starts a new segment, never one recovered from disk. */
    private boolean rollOver;
    private final Set<Long> unsynced = new HashSet<>();
    /** Per segment, the start offsets of records appended but not yet in a committed index write. */
    private final Map<Long, java.util.TreeSet<Long>> unindexed = new HashMap<>();
    private boolean directoryDirty;
    /** See {@link #recordBuffer}; guarded by this. */
    private ByteBuffer recordBuffer = ByteBuffer.allocateDirect(64 << 10);
    /** End of the zeroed bytes of the current segment; 0 until the preparer has been at it. */
    private long prepared;
    private Thread preparer;
    private volatile boolean stopPreparing;
    /** Whether the file system has room for that many more bytes of zeros (see {@link #startPreparing}). */
    private LongPredicate roomForZeros = n -> false;
    /** The last check found no room: appends stop waking the preparer, which looks again each second. */
    private boolean noRoomForZeros;
    /** The segment whose preparation last failed, so a lasting failure is logged once per segment. */
    private long preparationFailedFor = -1;

    Spool(Path dir) throws IOException {
        this.dir = Files.createDirectories(dir);
        this.store = fileStore(this.dir);
    }

    long usableSpace() throws IOException {
        // File.getUsableSpace asks statvfs directly and needs no mount table; 0 means it failed.
        return store != null ? store.getUsableSpace() : dir.toFile().getUsableSpace();
    }

    private static FileStore fileStore(Path dir) {
        try {
            return Files.getFileStore(dir);
        } catch (IOException e) {
            return null;
        }
    }

    /** A writer for one new message; nothing is on disk until it spills or is appended. */
    Writer writer(QueueId id) {
        return new Writer(id);
    }

    /** Counts a committed (or recovered) entry's reference to its location. */
    synchronized void reference(Location loc) {
        if (!loc.inFile()) {
            references.merge(loc.segment(), 1, Integer::sum);
        }
    }

    /** Counts {@code count} references to a segment at once: at open, from the index's counts. */
    synchronized void reference(long segment, long count) {
        references.merge(segment, (int) count, Integer::sum);
    }

    /**
     * Drops a reference after the commit that removed its entry; deletes the file, or the segment
     * once nothing refers to it and nothing is appended to it any more.
     */
    void release(QueueId id, Location loc) throws IOException {
        if (loc.inFile()) {
            Files.deleteIfExists(file(id));
            return;
        }
        synchronized (this) {
            int left = references.merge(loc.segment(), -1, Integer::sum);
            if (left > 0 || !deletable(loc.segment())) {
                return;
            }
            references.remove(loc.segment());
            closeSegment(loc.segment());
        }
        Files.deleteIfExists(segment(loc.segment()));
    }

    /** Makes every appended byte and every new directory entry durable: one call for all waiting accepts. */
    void sync() throws IOException {
        Set<Long> toSync;
        boolean dirty;
        synchronized (this) {
            toSync = new HashSet<>(unsynced);
            unsynced.clear();
            dirty = directoryDirty;
            directoryDirty = false;
        }
        try {
            for (long s : toSync) {
                FileChannel ch = channel(s);
                if (ch != null) {
                    ch.force(false);
                }
            }
            if (dirty) {
                try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                    d.force(true);
                }
            }
        } catch (IOException e) {
            synchronized (this) {
                unsynced.addAll(toSync);
                directoryDirty |= dirty;
            }
            throw e;
        }
    }

    /** Marks that a new file's directory entry must be synced before the next commit. */
    synchronized void fileCreated() {
        directoryDirty = true;
    }

    InputStream open(QueueId id, Location loc) throws IOException {
        if (loc.inFile()) {
            return Files.newInputStream(file(id));
        }
        FileChannel ch = channel(loc.segment());
        if (ch == null) {
            throw new NoSuchFileException(segment(loc.segment()).toString());
        }
        return new RangeInputStream(ch, loc.offset(), loc.length());
    }

    /** True when the bytes a location names are all there (checked at open). */
    boolean intact(QueueId id, Location loc) throws IOException {
        try {
            if (loc.inFile()) {
                return Files.size(file(id)) == loc.length();
            }
            return Files.size(segment(loc.segment())) >= loc.offset() + loc.length();
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    /**
     * At open, after every entry has been referenced: deletes segments and files nothing refers
     * to (bytes written but never committed, so never acknowledged) and starts a new segment.
     *
     * @param fileIds ids of entries whose bytes are in their own file
     */
    synchronized void removeOrphans(Collection<String> fileIds) throws IOException {
        removeOrphans(fileIds, false);
    }

    synchronized void removeOrphans(Collection<String> fileIds, boolean keepSegments) throws IOException {
        long highest = -1;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (name.startsWith(SEGMENT_PREFIX)) {
                    long n = Long.parseUnsignedLong(name.substring(SEGMENT_PREFIX.length()), 16);
                    highest = Math.max(highest, n);
                    if (!keepSegments && !references.containsKey(n)) {
                        Files.delete(p);
                    }
                } else if (!fileIds.contains(name)) {
                    Files.delete(p);
                }
            }
        }
        // A recovered segment is never appended to: its size on disk is not known here, and it may
        // just have been deleted as unreferenced. The first append starts segment highest + 1.
        current = highest;
        rollOver = true;
        directoryDirty = true;
    }

    /**
     * Starts the thread that keeps the current segment zeroed ahead of its appends. It writes
     * zeros only while {@code roomFor} says the file system has room for them beyond the queue's
     * reserve: on a nearly full disk appends simply grow the file, as they do without it.
     */
    void startPreparing(LongPredicate roomFor) {
        Thread t;
        synchronized (this) {
            if (preparer != null) {
                throw new IllegalStateException("spool preparer already started");
            }
            roomForZeros = roomFor;
            t = new Thread(this::prepareLoop, "queue-spool-prep");
            t.setDaemon(true);
            preparer = t;
        }
        t.start();
    }

    private void prepareLoop() {
        ByteBuffer zeros = ByteBuffer.allocateDirect(PREPARE_CHUNK);
        while (!stopPreparing) {
            boolean more;
            try {
                more = prepareSome(zeros);
            } catch (IOException | RuntimeException e) {
                more = false;
                long segment;
                boolean first;
                synchronized (this) {
                    segment = current;
                    first = !stopPreparing && preparationFailedFor != segment;
                    preparationFailedFor = segment;
                }
                if (first) {
                    LOG.warn("cannot zero spool segment {} ahead of its appends ({}); they go on without,"
                            + " at the cost of a slower fsync", segment, e.toString());
                }
            }
            if (!more) {
                // Woken by appends that come near the end of the zeros, or by a new segment; the
                // timeout retries after space has come back.
                LockSupport.parkNanos(this, TimeUnit.SECONDS.toNanos(1));
            }
        }
    }

    /**
     * Zeros up to {@link #PREPARE_SYNC_EVERY} bytes past the current segment's end (or past the
     * zeros already there) and syncs them. The zeros are written under the lock, a chunk at a
     * time, so they never land on a record: appends only ever write at the end of the records,
     * which is before them. Returns whether more is wanted at once.
     */
    boolean prepareSome(ByteBuffer zeros) throws IOException {
        FileChannel ch = null;
        long written = 0;
        boolean more = false;
        while (written < PREPARE_SYNC_EVERY) {
            synchronized (this) {
                if (stopPreparing || current < 0 || rollOver) {
                    break;
                }
                long start = Math.max(prepared, currentSize);
                if (start - currentSize >= PREPARE_AHEAD || start >= SEGMENT_SIZE) {
                    more = false;
                    break;
                }
                int len = (int) Math.min(PREPARE_CHUNK, SEGMENT_SIZE - start);
                noRoomForZeros = !roomForZeros.test(len);
                if (noRoomForZeros) {
                    more = false;
                    break;
                }
                FileChannel segment = segments.get(current);
                if (ch != null && segment != ch) {
                    // A new segment began: the zeros written so far are synced below, and the new
                    // one is prepared on the next round.
                    more = true;
                    break;
                }
                ch = segment;
                zeros.clear().limit(len);
                long pos = start;
                while (zeros.hasRemaining()) {
                    pos += ch.write(zeros, pos);
                }
                prepared = pos;
                written += len;
                more = true;
            }
        }
        if (written > 0) {
            try {
                ch.force(false);
            } catch (java.nio.channels.ClosedChannelException e) {
                // The segment was finished and deleted meanwhile, or the spool is closing.
                return !stopPreparing;
            }
        }
        return more;
    }

    /** Whether the preparer thread is running, for tests. */
    synchronized boolean preparerAlive() {
        return preparer != null && preparer.isAlive();
    }

    /** The current segment's zeroed bytes past its end, for tests. */
    synchronized long preparedAhead() {
        return Math.max(0, prepared - currentSize);
    }

    /** Stops the preparer (it may be inside an fsync, which it finishes) and closes every segment. */
    void close() {
        stopPreparing = true;
        Thread t;
        synchronized (this) {
            t = preparer;
        }
        if (t != null) {
            LockSupport.unpark(t);
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        closeChannels();
    }

    private synchronized void closeChannels() {
        for (FileChannel ch : segments.values()) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // Closing a read/append channel loses nothing: every byte that matters was synced.
            }
        }
        segments.clear();
    }

    private Path file(QueueId id) {
        return dir.resolve(id.value());
    }

    private Path segment(long n) {
        return dir.resolve(String.format("%s%016x", SEGMENT_PREFIX, n));
    }

    private synchronized FileChannel channel(long n) throws IOException {
        FileChannel ch = segments.get(n);
        if (ch == null && Files.exists(segment(n))) {
            ch = FileChannel.open(segment(n), StandardOpenOption.READ, StandardOpenOption.WRITE);
            segments.put(n, ch);
        }
        return ch;
    }

    private void closeSegment(long n) {
        FileChannel ch = segments.remove(n);
        if (ch != null) {
            try {
                ch.close();
            } catch (IOException ignored) {
                // The file is deleted next; nothing in it is referenced.
            }
        }
    }

    /**
     * A segment may go once it is not being appended to and every record in it has reached the
     * index: before that, its records are the only durable copy of accepted mail.
     */
    private boolean deletable(long n) {
        java.util.TreeSet<Long> open = unindexed.get(n);
        return n != current && (open == null || open.isEmpty());
    }

    /**
     * Appends one self-describing record to the current segment: a header (magic, length,
     * CRC-32C), the entry as {@code encoder} writes it for the final location, then the message
     * bytes of a small message ({@code body} null for a message in its own file, whose location
     * is {@code fileLocation}). The record is durable after the next {@link #sync}; until the
     * index has it ({@link #indexed}), recovery finds it by scanning the segment.
     */
    synchronized Appended appendRecord(RecordEncoder encoder, byte[] body, int bodyLength, Location fileLocation)
            throws IOException {
        int entryLength = encoder.encode(body == null ? fileLocation : new Location(0, 0, bodyLength)).length;
        long payload = 4L + entryLength + (body == null ? 0 : bodyLength);
        if (current < 0 || rollOver || currentSize + RECORD_HEADER + payload > SEGMENT_SIZE) {
            startSegment();
        }
        long start = currentSize;
        Location loc = body == null ? fileLocation
                : new Location(current, start + RECORD_HEADER + 4 + entryLength, bodyLength);
        byte[] entry = encoder.encode(loc);
        if (entry.length != entryLength) {
            throw new IllegalStateException("entry record length depends on its location");
        }
        java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
        ByteBuffer lengthField = ByteBuffer.allocate(4).putInt(0, entryLength);
        crc.update(lengthField.array());
        crc.update(entry);
        if (body != null) {
            crc.update(body, 0, bodyLength);
        }
        ByteBuffer record = recordBuffer(RECORD_HEADER + (int) payload);
        record.putInt(RECORD_MAGIC).putInt((int) payload).putInt((int) crc.getValue()).putInt(entryLength).put(entry);
        if (body != null) {
            record.put(body, 0, bodyLength);
        }
        record.flip();
        FileChannel ch = segments.get(current);
        long pos = start;
        while (record.hasRemaining()) {
            pos += ch.write(record, pos);
        }
        if (body != null) {
            // Counted now, not at commit, so the segment cannot be deleted under an accept in
            // flight; a failed accept gives the reference back through release().
            references.merge(current, 1, Integer::sum);
        }
        currentSize = pos;
        unindexed.computeIfAbsent(current, k -> new java.util.TreeSet<>()).add(start);
        unsynced.add(current);
        if (preparer != null && !noRoomForZeros && prepared - currentSize < PREPARE_AHEAD / 2
                && prepared < SEGMENT_SIZE) {
            LockSupport.unpark(preparer);
        }
        return new Appended(current, start, loc);
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

    /**
     * Where the index of segment {@code n} can say it is complete once the records
     * {@code committing} are written: the first record still not indexed, else the end.
     */
    synchronized long watermark(long n, Set<Long> committing) {
        java.util.TreeSet<Long> open = unindexed.get(n);
        if (open != null) {
            for (long start : open) {
                if (!committing.contains(start)) {
                    return start;
                }
            }
        }
        if (n == current) {
            return currentSize;
        }
        try {
            return Files.size(segment(n));
        } catch (IOException e) {
            return open == null || open.isEmpty() ? 0 : open.first();
        }
    }

    /** After the index commit that holds them: these records no longer need the segment scanned. */
    void indexed(long n, Set<Long> starts) throws IOException {
        synchronized (this) {
            java.util.TreeSet<Long> open = unindexed.get(n);
            if (open != null) {
                open.removeAll(starts);
                if (open.isEmpty()) {
                    unindexed.remove(n);
                }
            }
            if (references.getOrDefault(n, 0) > 0 || !deletable(n)) {
                return;
            }
            references.remove(n);
            closeSegment(n);
        }
        Files.deleteIfExists(segment(n));
    }

    /** One record found by {@link #scan}: where it starts and ends, and its entry bytes. */
    record Scanned(long start, long end, byte[] entry) { }

    /**
     * Reads the records of segment {@code n} from {@code from} on, for recovery. Stops at the
     * first record that is not whole and intact (a write torn by a crash: never acknowledged,
     * because the acknowledgement waits for the fsync that would have completed it).
     */
    List<Scanned> scan(long n, long from) throws IOException {
        List<Scanned> out = new java.util.ArrayList<>();
        Path p = segment(n);
        if (!Files.exists(p)) {
            return out;
        }
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long size = ch.size();
            long pos = from;
            ByteBuffer head = ByteBuffer.allocate(RECORD_HEADER);
            while (pos + RECORD_HEADER + 4 <= size) {
                head.clear();
                readFully(ch, head, pos);
                head.flip();
                int magic = head.getInt();
                long payload = head.getInt() & 0xffffffffL;
                int crcValue = head.getInt();
                if (magic != RECORD_MAGIC || payload < 4 || pos + RECORD_HEADER + payload > size) {
                    break;
                }
                ByteBuffer data = ByteBuffer.allocate((int) payload);
                readFully(ch, data, pos + RECORD_HEADER);
                java.util.zip.CRC32C crc = new java.util.zip.CRC32C();
                crc.update(data.array());
                if ((int) crc.getValue() != crcValue) {
                    break;
                }
                int entryLength = data.getInt(0);
                if (entryLength < 0 || entryLength > payload - 4) {
                    break;
                }
                byte[] entry = java.util.Arrays.copyOfRange(data.array(), 4, 4 + entryLength);
                out.add(new Scanned(pos, pos + RECORD_HEADER + payload, entry));
                pos += RECORD_HEADER + payload;
            }
        }
        return out;
    }

    /** Numbers of the segment files present, lowest first. */
    List<Long> segmentNumbers() throws IOException {
        List<Long> out = new java.util.ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, SEGMENT_PREFIX + "*")) {
            for (Path p : ds) {
                out.add(Long.parseUnsignedLong(p.getFileName().toString().substring(SEGMENT_PREFIX.length()), 16));
            }
        }
        java.util.Collections.sort(out);
        return out;
    }

    private static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                throw new java.io.EOFException();
            }
            pos += n;
        }
    }

    private void startSegment() throws IOException {
        rollOver = false;
        long old = current;
        current++;
        FileChannel ch = FileChannel.open(segment(current), StandardOpenOption.CREATE_NEW,
                StandardOpenOption.READ, StandardOpenOption.WRITE);
        segments.put(current, ch);
        currentSize = 0;
        prepared = 0;
        directoryDirty = true;
        if (old >= 0 && references.getOrDefault(old, 0) == 0 && deletable(old)) {
            references.remove(old);
            closeSegment(old);
            Files.deleteIfExists(segment(old));
        }
    }

    /**
     * One message being written: bytes collect in memory up to {@link #SMALL}, then spill to the
     * message's own file. The stream ignores close(), so a stray close cannot end the message.
     */
    final class Writer {
        final QueueId id;
        private final Buffer small = new Buffer();
        private FileChannel file;
        private OutputStream fileOut;
        private long written;
        private boolean finished;
        final OutputStream out = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                write(new byte[] {(byte) b}, 0, 1);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                if (finished) {
                    throw new IOException("message " + id + " is already finished");
                }
                if (file == null && small.size() + len > SMALL) {
                    spill();
                }
                if (file == null) {
                    small.write(b, off, len);
                } else {
                    fileOut.write(b, off, len);
                }
                written += len;
            }

            @Override
            public void flush() throws IOException {
                if (fileOut != null) {
                    fileOut.flush();
                }
            }
        };

        private Writer(QueueId id) {
            this.id = id;
        }

        private void spill() throws IOException {
            file = FileChannel.open(file(id), StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            fileOut = new java.io.BufferedOutputStream(Channels.newOutputStream(file), 64 << 10);
            small.writeTo(fileOut);
            small.reset();
        }

        /**
         * Ends the message. A large message's file is fsynced here (on the queue's large-accept
         * pool, off the event loops) and its location returned; a small one stays in memory ({@link #smallBytes}) for the caller
         * to append with its entry record ({@link #appendRecord}), and null is returned.
         */
        Location finish() throws IOException {
            finished = true;
            if (file == null) {
                return null;
            }
            fileOut.flush();
            file.force(false);
            file.close();
            fileCreated();
            return Location.file(written);
        }

        /** True once the message outgrew memory and is being written to its own file. */
        boolean spilled() {
            return file != null;
        }

        byte[] smallBytes() {
            return small.bytes();
        }

        int smallSize() {
            return small.size();
        }

        /** Forgets an unfinished message; or gives back the location of one whose commit failed. */
        void discard(Location loc) {
            finished = true;
            try {
                if (file != null) {
                    file.close();
                }
                if (loc != null) {
                    release(id, loc);
                } else if (file != null) {
                    Files.deleteIfExists(file(id));
                }
            } catch (IOException ignored) {
                // Whatever is left is unreferenced and removed at the next open.
            }
        }
    }

    /** A ByteArrayOutputStream whose array can be appended without a copy. */
    private static final class Buffer extends ByteArrayOutputStream {
        Buffer() {
            super(8192);
        }

        byte[] bytes() {
            return buf;
        }
    }

    /** Reads a byte range of a segment with positional reads, so many readers can share the channel. */
    private static final class RangeInputStream extends InputStream {
        private final FileChannel ch;
        private long pos;
        private final long end;

        RangeInputStream(FileChannel ch, long offset, long length) {
            this.ch = ch;
            this.pos = offset;
            this.end = offset + length;
        }

        @Override
        public int read() throws IOException {
            byte[] one = new byte[1];
            return read(one, 0, 1) < 0 ? -1 : one[0] & 0xff;
        }

        @Override
        public int read(byte[] b, int off, int len) throws IOException {
            if (pos >= end) {
                return -1;
            }
            int n = ch.read(ByteBuffer.wrap(b, off, (int) Math.min(len, end - pos)), pos);
            if (n < 0) {
                throw new IOException("segment ends before the message does");
            }
            pos += n;
            return n;
        }
    }
}
