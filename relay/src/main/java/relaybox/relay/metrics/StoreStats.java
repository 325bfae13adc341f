package relaybox.relay.metrics;

import java.io.IOException;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;

/**
 * Reads the size of the queue directory (queue.db, its write-ahead log, the spool) and the usable
 * space of its filesystem, for the store gauges. Read-only; never opens the store. Files that
 * vanish during the walk (a spool file removed after delivery) are skipped, not errors.
 *
 * @param sizeBytes bytes of all regular files under the queue directory, NaN if unreadable
 * @param freeBytes usable bytes on its filesystem, NaN if unreadable
 */
record StoreStats(double sizeBytes, double freeBytes) {

    static StoreStats read(Path dir) {
        double free;
        try {
            free = Files.getFileStore(dir).getUsableSpace();
        } catch (IOException e) {
            free = Double.NaN;
        }
        return new StoreStats(size(dir), free);
    }

    private static double size(Path dir) {
        long[] total = {0};
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) {
                    if (attrs.isRegularFile()) {
                        total[0] += attrs.size();
                    }
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult visitFileFailed(Path file, IOException e) {
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            return Double.NaN;
        }
        return total[0];
    }
}
