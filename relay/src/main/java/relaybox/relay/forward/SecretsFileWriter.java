package relaybox.relay.forward;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.SecureRandom;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Owns rewriting one line of a secrets file (a rotated OAuth refresh token) so that a crash at any
 * moment leaves either the old file or the new one, never a torn one: the new content goes to a
 * temporary file in the same directory, created with the old file's mode (never wider than
 * owner read/write and group read, so the rules of {@code SecretFiles} still hold), fsynced, then
 * renamed over the old one and the directory fsynced. Other lines, comments included, are kept,
 * and so are the old file's owner and group where the writer may set them (root running
 * {@code relaybox upstream login} must not leave a file the service user cannot read). A file
 * that does not exist yet is created 0600, owned by the writer.
 */
public final class SecretsFileWriter {

    private static final SecureRandom RANDOM = new SecureRandom();
    private static final Set<PosixFilePermission> MOST = EnumSet.of(PosixFilePermission.OWNER_READ,
            PosixFilePermission.OWNER_WRITE, PosixFilePermission.GROUP_READ);

    private SecretsFileWriter() {
    }

    /** Sets {@code key=value} in {@code file}: replaces the key's line, or appends one. */
    public static void replace(Path file, String key, String value) throws IOException {
        set(file, Map.of(key, value));
    }

    /**
     * Sets each {@code key=value} of {@code values} in {@code file} in one atomic rewrite: replaces
     * each key's line, or appends one (in the map's order). Creates the file when it is missing.
     */
    public static void set(Path file, Map<String, String> values) throws IOException {
        for (String v : values.values()) {
            if (v.contains("\n") || v.contains("\r")) {
                throw new IOException("refusing a value with a line break");
            }
        }
        boolean exists = Files.exists(file);
        List<String> out = new ArrayList<>();
        Set<String> done = new java.util.HashSet<>();
        for (String line : exists ? Files.readAllLines(file, StandardCharsets.UTF_8) : List.<String>of()) {
            int eq = line.indexOf('=');
            String key = eq > 0 && !line.stripLeading().startsWith("#") ? line.substring(0, eq).strip() : null;
            if (key != null && values.containsKey(key) && done.add(key)) {
                out.add(key + "=" + values.get(key));
            } else {
                out.add(line);
            }
        }
        values.forEach((k, v) -> {
            if (!done.contains(k)) {
                out.add(k + "=" + v);
            }
        });
        Path real = exists ? file.toRealPath() : file.toAbsolutePath();
        Path dir = real.getParent();
        Set<PosixFilePermission> mode = EnumSet.of(PosixFilePermission.OWNER_READ, PosixFilePermission.OWNER_WRITE);
        PosixFileAttributes old = null;
        if (exists) {
            try {
                old = Files.readAttributes(real, PosixFileAttributes.class);
                mode = EnumSet.copyOf(old.permissions());
                mode.retainAll(MOST);
                mode.add(PosixFilePermission.OWNER_READ);
                mode.add(PosixFilePermission.OWNER_WRITE);
            } catch (UnsupportedOperationException notPosix) {
                // No modes to keep.
            }
        }
        Path tmp = dir.resolve("." + real.getFileName() + "." + Long.toUnsignedString(RANDOM.nextLong(), 36) + ".tmp");
        boolean moved = false;
        try {
            try (FileChannel fc = FileChannel.open(tmp, Set.of(StandardOpenOption.CREATE_NEW, StandardOpenOption.WRITE,
                    LinkOption.NOFOLLOW_LINKS), PosixFilePermissions.asFileAttribute(mode))) {
                fc.write(java.nio.ByteBuffer.wrap((String.join("\n", out) + "\n").getBytes(StandardCharsets.UTF_8)));
                fc.force(true);
            }
            if (old != null) {
                var view = Files.getFileAttributeView(tmp, java.nio.file.attribute.PosixFileAttributeView.class);
                try {
                    // The owner stays when the writer may set it (root); otherwise the writer is
                    // normally the owner already.
                    if (!old.owner().equals(view.getOwner())) {
                        view.setOwner(old.owner());
                    }
                } catch (IOException ignored) {
                    // See above.
                }
                try {
                    // The packaged group (root:relaybox 0640) stays; without the right to set it, the
                    // file keeps the daemon's group, which the start-up check also accepts.
                    view.setGroup(old.group());
                } catch (IOException ignored) {
                    // See above.
                }
            }
            Files.move(tmp, real, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            moved = true;
            try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
                d.force(true);
            } catch (IOException ignored) {
                // Some file systems cannot fsync a directory; the rename is still atomic.
            }
        } finally {
            if (!moved) {
                Files.deleteIfExists(tmp);
            }
        }
    }
}
