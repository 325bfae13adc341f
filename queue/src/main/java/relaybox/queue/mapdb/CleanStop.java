package relaybox.queue.mapdb;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;

/**
 * Owns the stamp that tells the next open whether the queue was stopped cleanly:
 * {@code queue_dir/queue.clean}, written by a close that committed and synced everything, and
 * taken (removed, durably) by the open before the queue writes anything. Without it the stop was
 * a crash, a kill or a power loss, or the store comes from a version without the stamp: the open
 * then cross-checks the spool against the index ({@link Recovery}), which a clean open skips.
 */
final class CleanStop {

    static final String STAMP = "queue.clean";

    private CleanStop() {
    }

    /**
     * Whether the last stop of the store in {@code dir} was clean (a new store counts as clean:
     * there is nothing to cross-check). The stamp is gone when this returns, and its removal is
     * on disk, so a crash from here on is never taken for a clean stop.
     */
    static boolean take(Path dir) throws IOException {
        Path stamp = dir.resolve(STAMP);
        if (!Files.exists(stamp)) {
            return !Files.exists(dir.resolve("queue.db"));
        }
        Files.delete(stamp);
        syncDirectory(dir);
        return true;
    }

    /** After a close that committed the index and synced the spool. */
    static void stamp(Path dir) throws IOException {
        Path stamp = dir.resolve(STAMP);
        Files.deleteIfExists(stamp);
        try (FileChannel ch = PrivateFiles.createNew(stamp, StandardOpenOption.WRITE)) {
            ch.force(true);
        }
        syncDirectory(dir);
    }

    private static void syncDirectory(Path dir) throws IOException {
        try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
            ch.force(true);
        } catch (IOException e) {
            // Some file systems refuse to open a directory for fsync; the stamp is then as
            // durable as the file system makes a rename or unlink on its own.
        }
    }
}
