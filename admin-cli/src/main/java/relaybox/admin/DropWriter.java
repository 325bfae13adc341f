package relaybox.admin;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Collection;
import java.util.concurrent.ThreadLocalRandom;

/**
 * Writes one message into the drop directory for {@link Sendmail} when the daemon cannot be
 * reached; the daemon's DropPickup queues it when it runs. Owns the file's life until it is
 * durable under its final name; does not read stdin or build the message.
 *
 * <h2>How a file gets there safely</h2>
 * The directory is {@code relaybox:relaybox} mode 3733: anyone may create files, nobody but
 * relaybox may list it, the sticky bit stops users from renaming or deleting each other's files,
 * and the setgid bit gives every new file the group relaybox. The file is created exclusively
 * under a temporary name {@code t.*}, made 0640 (its owner and group relaybox can read it,
 * nobody else), written, fsynced, and only then renamed to {@code m.*}, the only names the
 * daemon takes, so a writer killed half-way leaves nothing the daemon would queue. The rename is
 * made durable by an fsync of the directory where the caller may open it (root, relaybox);
 * elsewhere by a second fsync of the renamed file, which on ext4, XFS and btrfs commits the
 * rename with it (their journals log a renamed inode's change), the same guarantee Postfix's
 * postdrop gives without a directory fsync.
 *
 * <p>Format: see relaybox.relay.intake.DropFile (version 1).
 */
final class DropWriter implements AutoCloseable {

    static final String MAGIC = "relaybox-drop 1";

    private final Path dir;
    private final Path temp;
    private final FileChannel channel;
    private final OutputStream out;
    private boolean done;

    private DropWriter(Path dir, Path temp, FileChannel channel) {
        this.dir = dir;
        this.temp = temp;
        this.channel = channel;
        this.out = new BufferedOutputStream(Channels.newOutputStream(channel), 65536);
    }

    /** Creates the temporary file and writes the envelope. */
    static DropWriter open(Path dir, String sender, Collection<String> recipients, boolean eightBit)
            throws IOException {
        Path temp = null;
        FileChannel ch = null;
        for (int attempt = 0; ch == null; attempt++) {
            temp = dir.resolve("t." + uniqueName());
            try {
                ch = FileChannel.open(temp, StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE);
            } catch (FileAlreadyExistsException e) {
                if (attempt > 10) {
                    throw e;
                }
            }
        }
        DropWriter w = new DropWriter(dir, temp, ch);
        try {
            // Explicitly, not through the umask: the daemon reads it through the group.
            Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString("rw-r-----"));
            StringBuilder env = new StringBuilder(MAGIC).append('\n');
            env.append("sender ").append(oneLine(sender)).append('\n');
            for (String r : recipients) {
                env.append("rcpt ").append(oneLine(r)).append('\n');
            }
            if (eightBit) {
                env.append("body 8BITMIME\n");
            }
            env.append('\n');
            w.out.write(env.toString().getBytes(StandardCharsets.UTF_8));
            return w;
        } catch (IOException | RuntimeException e) {
            w.close();
            throw e;
        }
    }

    /** Time first, so that the daemon takes files oldest first; then enough randomness to never collide. */
    private static String uniqueName() {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        String ms = Long.toString(System.currentTimeMillis());
        return "0".repeat(Math.max(0, 13 - ms.length())) + ms + "." + pid() + "." + Long.toHexString(r.nextLong());
    }

    /**
     * This process's id, for whoever looks at a left-over file; from /proc, because
     * ProcessHandle.current() starts a thread pool and links two lambdas, 5-10 ms of sendmail's
     * start-up. The random part alone keeps names apart, so "0" where /proc is not there will do.
     */
    private static String pid() {
        try {
            return Files.readSymbolicLink(Path.of("/proc/self")).toString();
        } catch (IOException | UnsupportedOperationException e) {
            return "0";
        }
    }

    private static String oneLine(String s) {
        if (s.indexOf('\n') >= 0 || s.indexOf('\r') >= 0) {
            throw new IllegalArgumentException("an address must not contain a line break");
        }
        return s;
    }

    /** One message line without its end; written with CRLF, not dot-stuffed. */
    void line(String text) throws IOException {
        out.write(text.getBytes(StandardCharsets.ISO_8859_1));
        out.write('\r');
        out.write('\n');
    }

    /** Makes the file durable and gives it its final name; returns that name. */
    String commit() throws IOException {
        out.flush();
        channel.force(true);
        channel.close();
        Path target = null;
        for (int attempt = 0; target == null; attempt++) {
            Path t = dir.resolve("m." + temp.getFileName().toString().substring(2)
                    + (attempt == 0 ? "" : "." + attempt));
            try {
                // Without REPLACE_EXISTING: another user's file of that name is never touched.
                Files.move(temp, t);
                target = t;
            } catch (FileAlreadyExistsException | AccessDeniedException e) {
                if (attempt > 10) {
                    throw e;
                }
            }
        }
        done = true;
        syncRename(target);
        return target.getFileName().toString();
    }

    private void syncRename(Path target) throws IOException {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
            return;
        } catch (IOException notReadable) {
            // Mode 3733: only root and relaybox may open the directory. See the class comment.
        }
        try (FileChannel f = FileChannel.open(target, StandardOpenOption.WRITE)) {
            f.force(true);
        }
    }

    /** Removes the temporary file unless it was committed. */
    @Override
    public void close() {
        try {
            channel.close();
        } catch (IOException ignored) {
            // Closing is best effort; the file goes below.
        }
        if (!done) {
            try {
                Files.deleteIfExists(temp);
            } catch (IOException ignored) {
                // A t.* file left behind is never queued; the daemon removes it after a day.
            }
        }
    }
}
