package relaybox.queue.mapdb;

import java.io.EOFException;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Owns reading one segment's records back, for recovery: every intact record in file order,
 * and every range between them that is not one. It decides nothing about entries.
 *
 * <p>After a record that is not whole and intact (bad magic, impossible length, CRC mismatch)
 * the scan <em>resynchronises</em>: it searches forward for the next offset where a known magic
 * starts a record whose length fits and whose CRC checks out, reports the bytes before it as
 * damaged, and goes on from there. One bad byte so costs the record it is in, not the rest.
 *
 * <p>What follows the last intact record is either nothing (zeros the preparer wrote, or the
 * end of the file), a write torn by a crash, or damage. A write is torn when its end never
 * reached the file: the record claims more bytes than the file has, or its last page is still
 * zero (the kernel copies a write into the page cache page by page, in order, and a kill stops
 * it between pages). A torn write was never acknowledged, because the 250 waits for the fsync
 * that completes it, so it is not reported. Anything else non-zero there is reported as damage.
 * Zeros or a cut at the very end of a segment look exactly like a torn write; the scan tells
 * them apart by how far the segment was synced ({@link SyncedLengths}): nothing before that was
 * torn, so a missing or unreadable tail before it is reported as damage.
 */
final class SegmentScanner {

    private static final int PAGE = 4096;
    private static final int SEARCH_CHUNK = 1 << 20;

    /** Receives what a scan finds, in file order. */
    interface Visitor {
        /** An intact record from {@code start} to {@code end}; {@code payload} follows the header. */
        void record(SpoolRecord.Kind kind, long start, long end, byte[] payload) throws IOException;

        /** Bytes from {@code start} to {@code end} that are not an intact record. */
        void damaged(long start, long end) throws IOException;
    }

    private final FileChannel ch;
    private final long size;

    private SegmentScanner(FileChannel ch) throws IOException {
        this.ch = ch;
        this.size = ch.size();
    }

    /**
     * Scans segment file {@code p} from {@code from}. Returns the end of the last intact record
     * (or of the last damaged range), where a later scan may start; {@code from} if none.
     */
    static long scan(Path p, long from, Visitor v) throws IOException {
        return scan(p, from, 0, v);
    }

    /**
     * As {@link #scan(Path, long, Visitor)}, knowing the segment was synced up to {@code synced}:
     * what ends the intact records before that is damage, not a torn write.
     */
    static long scan(Path p, long from, long synced, Visitor v) throws IOException {
        if (!Files.exists(p)) {
            return from;
        }
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ)) {
            long end = new SegmentScanner(ch).run(from, v);
            if (end < synced) {
                v.damaged(end, synced);
                end = synced;
            }
            return end;
        }
    }

    private long run(long from, Visitor v) throws IOException {
        long pos = from;
        long end = from;
        while (pos < size) {
            Parsed r = parse(pos);
            if (r != null) {
                v.record(r.kind, pos, r.end, r.payload);
                pos = r.end;
                end = pos;
                continue;
            }
            long next = findNext(pos + 1);
            if (next >= 0) {
                v.damaged(pos, next);
                pos = next;
                end = pos;
                continue;
            }
            long damagedTo = damagedTail(pos);
            if (damagedTo <= pos) {
                break;
            }
            v.damaged(pos, damagedTo);
            pos = damagedTo;
            end = pos;
        }
        return end;
    }

    private record Parsed(SpoolRecord.Kind kind, long end, byte[] payload) { }

    /** The intact record at {@code pos}, or null. */
    private Parsed parse(long pos) throws IOException {
        if (pos + SpoolRecord.HEADER + 4 > size) {
            return null;
        }
        ByteBuffer head = ByteBuffer.allocate(SpoolRecord.HEADER);
        readFully(head, pos);
        SpoolRecord.Kind kind = SpoolRecord.Kind.of(head.getInt(0));
        long payload = head.getInt(4) & 0xffffffffL;
        if (kind == null || payload < 4 || payload > SpoolRecord.MAX_PAYLOAD
                || pos + SpoolRecord.HEADER + payload > size) {
            return null;
        }
        byte[] data = new byte[(int) payload];
        readFully(ByteBuffer.wrap(data), pos + SpoolRecord.HEADER);
        if (!SpoolRecord.intact(data, head.getInt(8))) {
            return null;
        }
        return new Parsed(kind, pos + SpoolRecord.HEADER + payload, data);
    }

    /** The first offset at or after {@code from} where an intact record starts, or -1. */
    private long findNext(long from) throws IOException {
        ByteBuffer buf = ByteBuffer.allocate(SEARCH_CHUNK);
        for (long base = from; base + SpoolRecord.HEADER + 4 <= size; base += SEARCH_CHUNK - 3) {
            buf.clear().limit((int) Math.min(SEARCH_CHUNK, size - base));
            readFully(buf, base);
            byte[] b = buf.array();
            int n = buf.limit();
            for (int i = 0; i + 3 < n; i++) {
                // "RBX" then the kind's letter: cheap to test, and the CRC decides.
                if (b[i] == 0x52 && b[i + 1] == 0x42 && b[i + 2] == 0x58
                        && (b[i + 3] == 0x31 || b[i + 3] == 0x44 || b[i + 3] == 0x55 || b[i + 3] == 0x52)
                        && parse(base + i) != null) {
                    return base + i;
                }
            }
        }
        return -1;
    }

    /**
     * Past the last intact record: where reported damage ends, or {@code pos} when what is
     * there is zeros or a torn write (see the class comment).
     */
    private long damagedTail(long pos) throws IOException {
        ByteBuffer head = ByteBuffer.allocate(SpoolRecord.HEADER);
        if (pos + SpoolRecord.HEADER <= size) {
            readFully(head, pos);
            SpoolRecord.Kind kind = SpoolRecord.Kind.of(head.getInt(0));
            long payload = head.getInt(4) & 0xffffffffL;
            if (kind != null && payload >= 4 && payload <= SpoolRecord.MAX_PAYLOAD) {
                long claimedEnd = pos + SpoolRecord.HEADER + payload;
                if (claimedEnd > size) {
                    return pos;
                }
                long lastPage = Math.max(pos + SpoolRecord.HEADER, (claimedEnd - 1) / PAGE * PAGE);
                return allZero(lastPage, claimedEnd) ? pos : claimedEnd;
            }
        }
        // No record header: zeros past the first page boundary mean a write torn inside its
        // first page (a record may start just before a boundary); anything else is damage.
        long firstBoundary = (pos / PAGE + 1) * PAGE;
        long last = lastNonZero(pos);
        if (last < 0 || last < firstBoundary) {
            return pos;
        }
        return last + 1;
    }

    private boolean allZero(long from, long to) throws IOException {
        ByteBuffer b = ByteBuffer.allocate((int) Math.min(SEARCH_CHUNK, Math.max(0, to - from)));
        for (long p = from; p < to; p += b.capacity()) {
            b.clear().limit((int) Math.min(b.capacity(), to - p));
            readFully(b, p);
            for (int i = 0; i < b.limit(); i++) {
                if (b.get(i) != 0) {
                    return false;
                }
            }
        }
        return true;
    }

    /** The offset of the last non-zero byte at or after {@code from}, or -1. */
    private long lastNonZero(long from) throws IOException {
        ByteBuffer b = ByteBuffer.allocate(SEARCH_CHUNK);
        long last = -1;
        for (long p = from; p < size; p += SEARCH_CHUNK) {
            b.clear().limit((int) Math.min(SEARCH_CHUNK, size - p));
            readFully(b, p);
            for (int i = b.limit() - 1; i >= 0; i--) {
                if (b.get(i) != 0) {
                    last = p + i;
                    break;
                }
            }
        }
        return last;
    }

    private void readFully(ByteBuffer b, long pos) throws IOException {
        readFully(ch, b, pos);
    }

    static void readFully(FileChannel ch, ByteBuffer b, long pos) throws IOException {
        while (b.hasRemaining()) {
            int n = ch.read(b, pos);
            if (n < 0) {
                throw new EOFException();
            }
            pos += n;
        }
    }
}
