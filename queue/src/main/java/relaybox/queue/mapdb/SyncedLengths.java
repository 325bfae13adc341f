package relaybox.queue.mapdb;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.Map;

/**
 * Owns the evidence of how far each spool segment was synced, kept beside the spool in
 * {@code spool.synced}, so that recovery can tell a cut or zeroed tail of acknowledged records
 * (damage: quarantined) from a write torn by a crash (never acknowledged: ignored). A segment's
 * own bytes cannot say that once they are cut, and the index lags behind the spool.
 *
 * <p>One 24-byte slot per segment, at {@code (n mod SLOTS) * 24}: segment number, synced length,
 * CRC-32C of those 16 bytes, 4 spare. A slot is written with one pwrite after the fsync that made
 * its length durable and before any accept it covers is acknowledged; it is not fsynced itself: a
 * write survives kill -9, and after a power loss a slot lost or torn (its CRC fails) only claims
 * less, never more than the segment holds. A new segment's slot is reset before its first append,
 * so a number that comes back never inherits an old length.
 */
final class SyncedLengths {

    static final int SLOTS = 4096;
    private static final int SLOT = 24;

    private final FileChannel ch;
    /** Read at open, for recovery: segment number to synced length. */
    private final Map<Long, Long> atOpen = new java.util.concurrent.ConcurrentHashMap<>();

    SyncedLengths(Path file) throws IOException {
        boolean existed = Files.exists(file);
        ch = existed ? FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)
                : PrivateFiles.createNew(file, StandardOpenOption.READ, StandardOpenOption.WRITE);
        if (existed) {
            load();
        }
    }

    private void load() throws IOException {
        long size = ch.size();
        ByteBuffer all = ByteBuffer.allocate((int) Math.min(size, (long) SLOTS * SLOT));
        while (all.hasRemaining() && ch.read(all, all.position()) > 0) {
            // Read it all: at most 96 KiB.
        }
        for (int off = 0; off + SLOT <= all.position(); off += SLOT) {
            long n = all.getLong(off);
            long length = all.getLong(off + 8);
            if ((n != 0 || length != 0) && SpoolRecord.crc(all.array(), off, 16) == all.getInt(off + 16)
                    && Math.floorMod(n, SLOTS) == off / SLOT && length >= 0) {
                atOpen.put(n, length);
            }
        }
    }

    /** How far segment {@code n} was synced when the spool was last used (0: not known). */
    long syncedAtOpen(long n) {
        return atOpen.getOrDefault(n, 0L);
    }

    /** Records that segment {@code n} is synced up to {@code length}. */
    synchronized void write(long n, long length) throws IOException {
        if (length == 0) {
            atOpen.remove(n);
        }
        byte[] slot = new byte[SLOT];
        ByteBuffer b = ByteBuffer.wrap(slot).putLong(0, n).putLong(8, length);
        b.putInt(16, SpoolRecord.crc(slot, 0, 16));
        long at = (long) Math.floorMod(n, SLOTS) * SLOT;
        while (b.hasRemaining()) {
            ch.write(b, at + b.position());
        }
    }

    void close() {
        try {
            ch.close();
        } catch (IOException ignored) {
            // Nothing to flush: every slot was written with its own pwrite.
        }
    }
}
