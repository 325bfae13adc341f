package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.Envelope;
import relaybox.queue.MutableClock;
import relaybox.queue.Queue;
import relaybox.queue.RetrySchedule;

import java.nio.channels.FileChannel;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Queued mail is the service user's alone whatever the umask: the queue directory it creates is
 * 0700, and every spool directory and file 0600/0700. Run under this JVM's umask (022 here, as
 * outside the systemd unit), where default modes would be 0755 and 0644.
 */
class QueueFileModesTest {

    @TempDir
    Path root;

    @Test
    void theQueueDirectoryAndEverySpoolFileArePrivate() throws Exception {
        Path dir = root.resolve("new/queue");
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, new MutableClock())) {
            // A small message (appended to a segment) and a large one (a file of its own).
            for (int size : new int[] {100, Spool.SMALL + 10}) {
                Queue.Incoming in = q.receive();
                in.body().write(new byte[size]);
                q.accept(in, Envelope.of("app@example.org", List.of("a@x.example")), "");
            }
        }
        assertEquals("rwx------", mode(root.resolve("new")), "a missing parent is created 0700 too");
        assertEquals("rwx------", mode(dir));
        assertEquals("rwx------", mode(dir.resolve("spool")));
        int files = 0;
        try (Stream<Path> all = Files.list(dir.resolve("spool"))) {
            for (Path p : all.toList()) {
                assertEquals(Files.isDirectory(p) ? "rwx------" : "rw-------", mode(p), p.toString());
                files++;
            }
        }
        assertTrue(files >= 2, "a segment and a large message's file, found " + files);
    }

    @Test
    void anExistingDirectoryKeepsItsModeAndAPlantedSymlinkIsNeverWrittenThrough() throws Exception {
        Path dir = Files.createDirectory(root.resolve("packaged"),
                PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwxr-x---")));
        PrivateFiles.directory(dir);
        assertEquals("rwxr-x---", mode(dir), "the packages own an existing queue directory's mode");

        Path target = Files.writeString(root.resolve("victim"), "untouched");
        Path link = Files.createSymbolicLink(dir.resolve("planted"), target);
        assertThrows(FileAlreadyExistsException.class, () -> PrivateFiles.createNew(link, StandardOpenOption.WRITE));
        assertEquals("untouched", Files.readString(target));
        try (FileChannel ch = PrivateFiles.createNew(dir.resolve("fresh"), StandardOpenOption.WRITE)) {
            assertFalse(!ch.isOpen());
        }
        assertEquals("rw-------", mode(dir.resolve("fresh")));
    }

    private static String mode(Path p) throws Exception {
        return PosixFilePermissions.toString(Files.getPosixFilePermissions(p));
    }
}
