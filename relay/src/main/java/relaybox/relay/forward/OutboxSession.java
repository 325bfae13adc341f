package relaybox.relay.forward;

import relaybox.queue.QueueEntry;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.nio.channels.Channels;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.LinkOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The {@code outbox} upstream: writes each message as {@code <queue id>.eml} into a directory
 * instead of sending it, for development and staging (nothing reaches real people). The file
 * starts with {@code Return-Path:} and {@code X-Relaybox-To:} lines carrying the envelope, then
 * the upstream's extra headers, then the message exactly as queued. Written to a temporary name,
 * fsynced, then renamed, so a reader never sees half a message.
 *
 * <p>The directory may be one others can write to (a dev box's /tmp), so the temporary name is
 * unpredictable and created exclusively without following links (a planted file or symlink fails
 * the attempt, which is retried, instead of redirecting the write), 0600; rename(2) then replaces
 * a {@code .eml} symlink itself, never its target.
 */
final class OutboxSession implements UpstreamSession {

    private static final java.security.SecureRandom RANDOM = new java.security.SecureRandom();
    private static final FileAttribute<Set<PosixFilePermission>> PRIVATE =
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------"));

    private final Path dir;
    private final List<String> headers;

    OutboxSession(Path dir, List<String> headers) throws IOException {
        this.dir = dir;
        this.headers = headers;
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
    }

    @Override
    public Attempt send(QueueEntry entry, MessageSource source) {
        List<String> rcpts = entry.pendingRecipients();
        Map<String, Outcome> out = new LinkedHashMap<>();
        Outcome o;
        Path tmp = dir.resolve("." + entry.id() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36) + ".tmp");
        Path eml = dir.resolve(entry.id() + ".eml");
        boolean created = false;
        try (FileChannel fc = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                LinkOption.NOFOLLOW_LINKS), PRIVATE); InputStream in = source.open()) {
            created = true;
            OutputStream os = Channels.newOutputStream(fc);
            StringBuilder top = new StringBuilder();
            top.append("Return-Path: <").append(entry.envelope().sender()).append(">\r\n");
            top.append("X-Relaybox-To: <").append(String.join(">, <", rcpts)).append(">\r\n");
            headers.forEach(h -> top.append(h).append("\r\n"));
            os.write(top.toString().getBytes(StandardCharsets.UTF_8));
            in.transferTo(os);
            os.flush();
            fc.force(true);
            Files.move(tmp, eml, StandardCopyOption.ATOMIC_MOVE);
            syncDir();
            o = FailurePolicy.deliveredLocally("250 2.0.0 written to " + eml);
        } catch (IOException e) {
            o = FailurePolicy.localFailure(Stage.MESSAGE, "outbox: cannot write " + eml + ": " + e.getMessage());
            try {
                if (created) {
                    Files.deleteIfExists(tmp); // ours: someone else's file at that name is left alone
                }
            } catch (IOException ignored) {
                // A stray temporary file; the next attempt uses another name.
            }
        }
        for (String r : rcpts) {
            out.put(r, o);
        }
        return new Attempt(out, upstream());
    }

    private void syncDir() {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException e) {
            // Some filesystems cannot fsync a directory; the rename is still atomic.
        }
    }

    @Override
    public boolean reusable() {
        return true;
    }

    @Override
    public boolean keepAlive() {
        return true;
    }

    @Override
    public String upstream() {
        return "outbox[" + dir + "]";
    }

    @Override
    public void close() {
        // Nothing is held open between messages.
    }
}
