package relaybox.queue.mapdb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.Collection;
import java.util.function.LongPredicate;

/**
 * Owns clearing the spool directory at open of what nothing refers to: segments no entry and no
 * unindexed record keeps, and message files no entry names (bytes written but never
 * acknowledged). After any damage it deletes nothing: a damaged record or index entry may have
 * been what referred to them, so segments stay and unreferenced message files move into
 * {@link Spool#QUARANTINE_DIR}, each with a log line.
 */
final class OrphanCleanup {

    private static final Logger LOG = LoggerFactory.getLogger(OrphanCleanup.class);

    private OrphanCleanup() {
    }

    /**
     * Cleans {@code dir}; returns the highest segment number present before (-1 for none).
     *
     * @param kept    whether something still keeps segment n
     * @param fileIds ids of entries whose bytes are in their own file
     * @param keepAll nothing is deleted or moved: the index may have lost an entry that refers to
     *                them, and the cross-check that would find it runs after the open
     */
    static long run(Path dir, String segmentPrefix, LongPredicate kept, Collection<String> fileIds, boolean damageSeen,
                    boolean keepAll) throws IOException {
        long highest = -1;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                String name = p.getFileName().toString();
                if (name.startsWith(segmentPrefix)) {
                    long n = Long.parseUnsignedLong(name.substring(segmentPrefix.length()), 16);
                    highest = Math.max(highest, n);
                    if (!keepAll && !damageSeen && !kept.test(n)) {
                        Files.delete(p);
                    }
                } else if (!keepAll && Files.isRegularFile(p) && !fileIds.contains(name)) {
                    if (damageSeen) {
                        Path aside = PrivateFiles.directory(dir.resolveSibling(Spool.QUARANTINE_DIR)).resolve(name);
                        Files.move(p, aside, StandardCopyOption.REPLACE_EXISTING);
                        LOG.warn("{}: message file no intact record refers to, kept as {} (damage was seen)",
                                name, aside);
                    } else {
                        Files.delete(p);
                    }
                }
            }
        }
        return highest;
    }
}
