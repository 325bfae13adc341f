package relaybox.queue.mapdb;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;

/**
 * Owns marking an ACCEPT record dead in place: its magic overwritten with "dead" (4 bytes, one
 * pwrite, synced with the spool's next sync), so a scan steps over a delivered, deleted or moved
 * message's record and a rebuild from the spool never queues it again.
 */
final class DeadMarks {

    private final Spool spool;

    DeadMarks(Spool spool) {
        this.spool = spool;
    }

    /**
     * Marks the ACCEPT record of a small message dead by overwriting its magic (4 bytes, in
     * place); synced with the next {@link Spool#sync}. A message in its own file needs no mark: its
     * file goes with the commit that removes it, and a record whose file is gone is not queued
     * again. Returns false when the record was not found where the location says.
     */
    boolean markDead(SpoolLocation loc) throws IOException {
        if (loc.inFile()) {
            return true;
        }
        FileChannel ch = spool.channel(loc.segment());
        long start = ch == null ? -1 : MessageReader.recordStart(ch, loc);
        if (start < 0) {
            return false;
        }
        ByteBuffer magic = ByteBuffer.allocate(4).putInt(0, SpoolRecord.Kind.DEAD.magic);
        while (magic.hasRemaining()) {
            ch.write(magic, start + magic.position());
        }
        spool.marked(loc.segment());
        return true;
    }

    /**
     * Marks the ACCEPT record starting at {@code start} of segment {@code n} dead, if one is there
     * (a compaction's old record or unused copy, whose start the compactor knows); synced with the
     * next {@link Spool#sync}. A large message's record is marked this way, as its location does not
     * say where its record is.
     */
    boolean markDeadAt(long n, long start) throws IOException {
        FileChannel ch = spool.channel(n);
        if (ch == null || start < 0 || start + 4 > ch.size()) {
            return false;
        }
        ByteBuffer magic = ByteBuffer.allocate(4);
        SegmentScanner.readFully(ch, magic, start);
        int m = magic.getInt(0);
        if (m != SpoolRecord.Kind.ACCEPT.magic) {
            return m == SpoolRecord.Kind.DEAD.magic;
        }
        magic.putInt(0, SpoolRecord.Kind.DEAD.magic).clear();
        while (magic.hasRemaining()) {
            ch.write(magic, start + magic.position());
        }
        spool.marked(n);
        return true;
    }
}
