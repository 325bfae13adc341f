package relaybox.queue.mapdb;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.OpenOption;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Arrays;
import java.util.Set;

/**
 * Owns the modes the queue creates its directories and files with: 0700 and 0600, given
 * explicitly at creation, so queued mail is the service user's alone whatever the process umask
 * (outside the systemd unit a umask of 022 would make it 0755/0644, readable by every local
 * user). Existing directories are left as they are: the packages and the operator own those.
 */
final class PrivateFiles {

    static final Set<PosixFilePermission> DIRECTORY = PosixFilePermissions.fromString("rwx------");
    static final Set<PosixFilePermission> FILE = PosixFilePermissions.fromString("rw-------");

    private PrivateFiles() {
    }

    /** Creates {@code dir} and any missing parents 0700; an existing directory is kept as it is. */
    static Path directory(Path dir) throws IOException {
        if (Files.isDirectory(dir)) {
            return dir;
        }
        try {
            return Files.createDirectories(dir, attribute(DIRECTORY));
        } catch (UnsupportedOperationException e) {
            return Files.createDirectories(dir); // not a POSIX file system: nothing to give
        } catch (FileAlreadyExistsException e) {
            if (Files.isDirectory(dir)) {
                return dir; // created concurrently
            }
            throw e;
        }
    }

    /**
     * Opens a new file, created 0600 (CREATE_NEW: an existing file or a planted symlink fails the
     * open instead of being written through). {@code options} are added to CREATE_NEW.
     */
    static FileChannel createNew(Path file, OpenOption... options) throws IOException {
        OpenOption[] all = Arrays.copyOf(options, options.length + 2);
        all[options.length] = StandardOpenOption.CREATE_NEW;
        all[options.length + 1] = LinkOption.NOFOLLOW_LINKS;
        Set<OpenOption> set = Set.of(all);
        try {
            return FileChannel.open(file, set, attribute(FILE));
        } catch (UnsupportedOperationException e) {
            return FileChannel.open(file, set);
        }
    }

    private static FileAttribute<Set<PosixFilePermission>> attribute(Set<PosixFilePermission> perms) {
        return PosixFilePermissions.asFileAttribute(perms);
    }
}
