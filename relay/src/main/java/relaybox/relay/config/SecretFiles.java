package relaybox.relay.config;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.OptionalInt;
import java.util.Set;

/**
 * Owns the rule for files that hold secrets ({@code intake_auth_credentials}, each upstream's
 * {@code auth_file}): only their owner and the service group may read them. Refused, with an
 * error naming the key and the file: a missing file, any access for others, group write, and
 * group read when the file's group is not a service group: the process's effective group (the
 * daemon's) or the packaged service group {@code relaybox}, which nobody but the service belongs
 * to (so {@code relaybox config check}, run by root or an operator, judges as the daemon does).
 * So {@code 0600} and {@code 0640 root:relaybox} load, while {@code 0640 root:users} (every user
 * of the host) and {@code 0644} do not.
 *
 * <p>API: {@link #check(String, String, Path)} for one file named by one key. The daemon's
 * start and {@code config check} apply it through {@code ConfigFiles}, so a bad file stops the
 * daemon with exit 78 (EX_CONFIG) before it starts anything.
 */
public final class SecretFiles {

    /** The group the packages create for the service. */
    static final String SERVICE_GROUP = "relaybox";

    private SecretFiles() {
    }

    /**
     * @param source the config file, for the message
     * @param key    the key that names {@code file}, for the message
     * @throws ConfigException when the file is missing or others than its owner and the service
     *                         group could read it
     */
    public static void check(String source, String key, Path file) throws ConfigException {
        String where = source + ": " + key + ": " + file + ": ";
        PosixFileAttributes a;
        int gid;
        try {
            a = Files.readAttributes(file, PosixFileAttributes.class);
            gid = (Integer) Files.getAttribute(file, "unix:gid");
        } catch (NoSuchFileException e) {
            throw new ConfigException(where + "no such file", e);
        } catch (UnsupportedOperationException e) {
            return; // not a POSIX file system: there are no modes to judge
        } catch (IOException e) {
            throw new ConfigException(where + "cannot check its permissions: " + e.getMessage(), e);
        }
        Set<PosixFilePermission> p = a.permissions();
        String mode = PosixFilePermissions.toString(p);
        if (p.contains(PosixFilePermission.OTHERS_READ) || p.contains(PosixFilePermission.OTHERS_WRITE)
                || p.contains(PosixFilePermission.OTHERS_EXECUTE)) {
            throw new ConfigException(where + "other users can access this secret (mode " + mode
                    + "); run chmod 600 (or 640 with the service group) on it");
        }
        if (p.contains(PosixFilePermission.GROUP_WRITE)) {
            throw new ConfigException(where + "group-writable secret (mode " + mode + ", group " + a.group().getName()
                    + "); run chmod 640 on it");
        }
        if (p.contains(PosixFilePermission.GROUP_READ) && !isServiceGroup(gid, a.group())) {
            throw new ConfigException(where + "group-readable by group " + a.group().getName() + " (mode " + mode
                    + "), which is not the service's group: everyone in it could read the secret; run chmod 600 on it, "
                    + "or chgrp it to the group relaybox runs as");
        }
    }

    private static boolean isServiceGroup(int gid, GroupPrincipal group) {
        OptionalInt own = effectiveGid();
        if (own.isPresent() && own.getAsInt() == gid) {
            return true;
        }
        try {
            return group.equals(java.nio.file.FileSystems.getDefault().getUserPrincipalLookupService()
                    .lookupPrincipalByGroupName(SERVICE_GROUP));
        } catch (UserPrincipalNotFoundException e) {
            return false; // no such group on this host
        } catch (IOException e) {
            return false;
        }
    }

    /** The process's effective gid, from /proc (Linux); empty elsewhere. */
    static OptionalInt effectiveGid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Gid:")) {
                    return OptionalInt.of(Integer.parseInt(line.substring(4).trim().split("\\s+")[1]));
                }
            }
        } catch (IOException | RuntimeException e) {
            // Not Linux: only the service group's name is judged.
        }
        return OptionalInt.empty();
    }
}
