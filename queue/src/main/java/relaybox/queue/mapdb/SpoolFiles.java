package relaybox.queue.mapdb;

import relaybox.queue.QueueId;

import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.FileStore;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Owns the spool directory's file names and what the file system says about them: where a
 * segment or a large message's file is, which segments exist, their lengths and the space left.
 * Split out of {@link Spool} because none of it needs the spool's lock or state: it only asks
 * the file system.
 */
final class SpoolFiles {

    static final String SEGMENT_PREFIX = "seg-";

    private final Path dir;
    /** Null where the JDK finds no mount entry for the directory (a plain chroot, some containers). */
    private final FileStore store;

    SpoolFiles(Path dir) {
        this.dir = dir;
        this.store = fileStore(dir);
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

    Path file(QueueId id) {
        return dir.resolve(id.value());
    }

    Path segment(long n) {
        return dir.resolve(String.format("%s%016x", SEGMENT_PREFIX, n));
    }

    /** See {@link Spool#intact}. */
    boolean intact(QueueId id, SpoolLocation loc) throws IOException {
        try {
            if (loc.inFile()) {
                return Files.size(file(id)) == loc.length();
            }
            return Files.size(segment(loc.segment())) >= loc.offset() + loc.length();
        } catch (NoSuchFileException e) {
            return false;
        }
    }

    /** Numbers of the segment files present, lowest first. */
    List<Long> segmentNumbers() throws IOException {
        List<Long> out = new ArrayList<>();
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir, SEGMENT_PREFIX + "*")) {
            for (Path p : ds) {
                out.add(Long.parseUnsignedLong(p.getFileName().toString().substring(SEGMENT_PREFIX.length()), 16));
            }
        }
        Collections.sort(out);
        return out;
    }

    /** The length of segment {@code n} on disk, or -1 when it is gone. */
    long segmentLength(long n) {
        try {
            return Files.size(segment(n));
        } catch (IOException e) {
            return -1;
        }
    }

    /** Bytes of every segment and message file in the spool, as the file system counts their length. */
    long diskBytes() throws IOException {
        long total = 0;
        try (DirectoryStream<Path> ds = Files.newDirectoryStream(dir)) {
            for (Path p : ds) {
                try {
                    total += Files.size(p);
                } catch (NoSuchFileException gone) {
                    // Deleted while listed.
                }
            }
        }
        return total;
    }
}
