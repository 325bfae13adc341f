package relaybox.queue.mapdb;

import org.mapdb.DBException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOError;
import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Owns what happens when the index turns out damaged while the queue runs (a read fails its
 * checksum, or lands past the end of a cut file): the open found nothing wrong, because it reads
 * no entry it does not need. The index is not trusted again: a marker file makes the next open
 * move it aside and rebuild it from the spool, as it does with an index it cannot open, and the
 * queue's owner is told once, so that it can stop and be started again. Nothing acknowledged is
 * lost: every message and every outcome is in the spool.
 */
final class IndexDamage {

    private static final Logger LOG = LoggerFactory.getLogger(IndexDamage.class);
    /** In the queue directory: the index is to be rebuilt from the spool at the next open. */
    static final String MARKER = "queue.db.rebuild";

    private final Path dir;
    private final AtomicBoolean reported = new AtomicBoolean();
    private volatile Runnable listener = () -> { };
    private volatile java.util.function.BooleanSupplier closed = () -> false;

    IndexDamage(Path dir) {
        this.dir = dir;
    }

    /** The exception a read of a damaged index ends in, after {@link #report}. */
    static final class Damaged extends RuntimeException {
        Damaged(Throwable cause) {
            super("queue index damaged: " + cause, cause);
        }
    }

    /** Whether the last run found the index damaged. */
    static boolean marked(Path dir) {
        return Files.exists(dir.resolve(MARKER));
    }

    /**
     * Whether a process holds the index open (MapDB locks its file): then nothing may move it
     * aside, whatever the marker says; the holder is the one that is stopping.
     */
    static boolean inUse(Path db) {
        try (FileChannel ch = FileChannel.open(db, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            java.nio.channels.FileLock lock = ch.tryLock();
            if (lock == null) {
                return true;
            }
            lock.release();
            return false;
        } catch (java.nio.channels.OverlappingFileLockException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    /** After a rebuild: the new index is trusted. */
    static void clear(Path dir) throws IOException {
        Files.deleteIfExists(dir.resolve(MARKER));
    }

    void onDamage(Runnable r) {
        listener = r;
    }

    /** Tells whether the store is closed: a read that fails then is not damage (see {@link #report}). */
    void closedWhen(java.util.function.BooleanSupplier c) {
        closed = c;
    }

    /**
     * Whether {@code e} came out of MapDB reading its files (a failed checksum, an offset past the
     * end, a fault on the mapped file, or a decoding error deep inside it) rather than out of a
     * caller's code that a read called back into.
     */
    static boolean fromStore(Throwable e) {
        if (e instanceof DBException || e instanceof InternalError || e instanceof IOError) {
            return true;
        }
        // MapDB's own frames may sit under those of the libraries it uses (Eclipse Collections'
        // LongArrayList.get throws IndexOutOfBounds for a zeroed index page), so look at every
        // frame above the first of ours: a MapDB frame among them means MapDB was reading.
        for (StackTraceElement f : e.getStackTrace()) {
            String c = f.getClassName();
            if (c.startsWith("org.mapdb.")) {
                return true;
            }
            if (c.startsWith("relaybox.")) {
                return false;
            }
        }
        return false;
    }

    /** Marks the index for a rebuild and tells the owner; once, whatever the number of failing reads. */
    Damaged report(Throwable e) {
        if (closed.getAsBoolean()) {
            // A read that outlived the close (a late status or metrics request, a test's kill)
            // fails on the closed store: nothing is damaged, and a marker would make the next
            // start rebuild the whole index from the spool for nothing.
            return e instanceof Damaged d ? d : new Damaged(e);
        }
        if (reported.compareAndSet(false, true)) {
            LOG.error("queue index {} is damaged ({}); relaybox stops taking mail from it, and the next start "
                    + "rebuilds the index from the spool", dir.resolve("queue.db"), e.toString());
            try {
                Path marker = dir.resolve(MARKER);
                Files.writeString(marker, e + "\n", StandardCharsets.UTF_8);
                try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                    d.force(true);
                }
            } catch (IOException io) {
                // The next open still finds the damage the hard way (or not at all, and this
                // read fails again): say so, the owner is told anyway.
                LOG.error("cannot write {} ({}); remove queue.db by hand if the next start does not rebuild it",
                        dir.resolve(MARKER), io.toString());
            }
            listener.run();
        }
        return e instanceof Damaged d ? d : new Damaged(e);
    }
}
