package relaybox.queue.mapdb;

import relaybox.queue.QueueId;

import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.util.zip.CRC32C;

/**
 * Owns reading a message's bytes back for sending, and checking them first: a small message
 * against its ACCEPT record's CRC-32C, a large one against the CRC-32C its record carries for
 * its file. Bytes that do not match are never handed out: {@link Damaged} is thrown instead,
 * and the queue quarantines the entry.
 */
final class MessageReader {

    /** The smallest entry EntryCodec writes (an empty envelope still has a dozen fields). */
    private static final int MIN_ENTRY = 40;
    /** An entry is a few hundred bytes: one small read finds nearly every record start. */
    private static final int FIRST_WINDOW = 2 << 10;
    private static final int LAST_WINDOW = 4 << 20;

    /** A message whose bytes do not match their checksum, or whose record cannot be found. */
    static final class Damaged extends IOException {
        Damaged(String message) {
            super(message);
        }
    }

    private final Spool spool;

    MessageReader(Spool spool) {
        this.spool = spool;
    }

    InputStream open(QueueId id, SpoolLocation loc) throws IOException {
        return loc.inFile() ? openFile(id, loc) : openSmall(loc);
    }

    private InputStream openSmall(SpoolLocation loc) throws IOException {
        FileChannel ch = spool.channel(loc.segment());
        if (ch == null) {
            throw new NoSuchFileException(spool.segment(loc.segment()).toString());
        }
        long start = recordStart(ch, loc);
        if (start < 0) {
            throw new Damaged("no intact record header before the message bytes in spool segment " + loc.segment());
        }
        ByteBuffer head = ByteBuffer.allocate(SpoolRecord.HEADER);
        SegmentScanner.readFully(ch, head, start);
        byte[] payload = new byte[(int) (loc.offset() + loc.length() - start - SpoolRecord.HEADER)];
        SegmentScanner.readFully(ch, ByteBuffer.wrap(payload), start + SpoolRecord.HEADER);
        if (SpoolRecord.crc(payload, 0, payload.length) != head.getInt(8)) {
            throw new Damaged("message bytes do not match their record checksum (spool segment "
                    + loc.segment() + " at " + start + ")");
        }
        // Read whole for the check anyway (at most Spool.SMALL): sent from memory, not read twice.
        return new ByteArrayInputStream(payload, (int) (payload.length - loc.length()), (int) loc.length());
    }

    private InputStream openFile(QueueId id, SpoolLocation loc) throws IOException {
        if (loc.hasFileCrc()) {
            CRC32C crc = new CRC32C();
            long size = 0;
            try (InputStream in = Files.newInputStream(spool.file(id))) {
                byte[] buf = new byte[64 << 10];
                int n;
                while ((n = in.read(buf)) > 0) {
                    crc.update(buf, 0, n);
                    size += n;
                }
            }
            if (size != loc.length() || (int) crc.getValue() != loc.fileCrc()) {
                throw new Damaged(size != loc.length() ? "message file is " + size + " bytes, " + loc.length()
                        + " expected" : "message file does not match its checksum");
            }
        }
        return Files.newInputStream(spool.file(id));
    }

    /**
     * The start of the ACCEPT record (live or dead) that holds a small message's bytes, found by
     * looking back from them: the header's payload length and the entry length just before the
     * entry must both agree with where the bytes are. Returns -1 when no such header is there.
     */
    static long recordStart(FileChannel ch, SpoolLocation loc) throws IOException {
        long body = loc.offset();
        for (int window : new int[] {FIRST_WINDOW, 64 << 10, LAST_WINDOW}) {
            int w = (int) Math.min(window, body);
            ByteBuffer b = ByteBuffer.allocate(w);
            SegmentScanner.readFully(ch, b, body - w);
            for (int i = w - SpoolRecord.HEADER - 4 - MIN_ENTRY; i >= 0; i--) {
                int magic = b.getInt(i);
                if (magic != SpoolRecord.Kind.ACCEPT.magic && magic != SpoolRecord.Kind.DEAD.magic) {
                    continue;
                }
                long p = body - w + i;
                long entry = body - p - SpoolRecord.HEADER - 4;
                if (b.getInt(i + 12) == entry && (b.getInt(i + 4) & 0xffffffffL) == 4 + entry + loc.length()) {
                    return p;
                }
            }
            if (w == body) {
                break;
            }
        }
        return -1;
    }
}
