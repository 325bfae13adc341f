package relaybox.relay.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertDoesNotThrow;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Secret files named in the configuration are refused at load unless only their owner and the
 * service group can read them: {@code auth_file} and {@code intake_auth_credentials} alike.
 */
class SecretFilesTest {

    @TempDir
    Path dir;

    private Path secret(String name, String mode) throws Exception {
        Path f = Files.writeString(dir.resolve(name), "username=u\npassword=p\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString(mode));
        return f;
    }

    /** Gives {@code f} a group that is not this process's: "users" (needs root, or membership). */
    private static void chgrpToAnotherGroup(Path f) {
        try {
            GroupPrincipal users = f.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByGroupName("users");
            Files.getFileAttributeView(f, PosixFileAttributeView.class).setGroup(users);
            int gid = (Integer) Files.getAttribute(f, "unix:gid");
            assumeTrue(gid != SecretFiles.effectiveGid().orElseThrow(), "the process's own group is users");
        } catch (Exception e) {
            assumeTrue(false, "cannot give a file the group users here: " + e);
        }
    }

    /** Loads the config and judges its password files as the daemon's start does (ConfigFiles). */
    private static RelayConfig checked(Path c) throws ConfigException {
        RelayConfig config = RelayConfig.load(c);
        for (relaybox.relay.ConfigFiles.NamedFile f : relaybox.relay.ConfigFiles.named(config)) {
            if (f.kind() == relaybox.relay.ConfigFiles.Kind.UPSTREAM_SECRET
                    || f.kind() == relaybox.relay.ConfigFiles.Kind.INTAKE_CREDENTIALS) {
                relaybox.relay.ConfigFiles.NO_OTHERS.check(f, java.util.Set.of());
            }
        }
        return config;
    }

    private Path conf(String body) throws Exception {
        return Files.writeString(dir.resolve("relaybox.conf"), body);
    }

    private String upstreamWith(Path auth) {
        return "[[upstream]]\nname = \"esp\"\nhost = \"smtp.esp.example\"\nauth_file = \"" + auth + "\"\n";
    }

    private String intakeWith(Path creds) {
        return "intake_tls_cert = \"" + dir.resolve("cert.pem") + "\"\nintake_tls_key = \"" + dir.resolve("key.pem")
                + "\"\nintake_auth_credentials = \"" + creds + "\"\n"
                + "[[upstream]]\ntype = \"outbox\"\ndir = \"" + dir.resolve("outbox") + "\"\n";
    }

    @Test
    void authFileReadableByAnotherGroupIsRefusedNamingKeyFileAndGroup() throws Exception {
        Path auth = secret("upstream.secret", "rw-r-----");
        chgrpToAnotherGroup(auth);
        Path c = conf(upstreamWith(auth));
        ConfigException e = assertThrows(ConfigException.class, () -> checked(c));
        assertTrue(e.getMessage().startsWith(c + ": upstream[0].auth_file: " + auth + ": group-readable by group users"),
                e.getMessage());
    }

    @Test
    void intakeCredentialsReadableByAnotherGroupIsRefused() throws Exception {
        Path creds = secret("intake.creds", "rw-r-----");
        chgrpToAnotherGroup(creds);
        Path c = conf(intakeWith(creds));
        ConfigException e = assertThrows(ConfigException.class, () -> checked(c));
        assertTrue(e.getMessage().startsWith(c + ": intake_auth_credentials: " + creds + ": group-readable by group users"),
                e.getMessage());
    }

    @Test
    void intakeCredentialsReadableByOthersOrMissingAreRefused() throws Exception {
        Path creds = secret("intake.creds", "rw-r--r--");
        ConfigException e = assertThrows(ConfigException.class, () -> checked(conf(intakeWith(creds))));
        assertTrue(e.getMessage().contains("intake_auth_credentials: " + creds + ": other users can access"),
                e.getMessage());
        Files.setPosixFilePermissions(creds, PosixFilePermissions.fromString("rw-rw----"));
        e = assertThrows(ConfigException.class, () -> checked(conf(intakeWith(creds))));
        assertTrue(e.getMessage().contains("group-writable"), e.getMessage());
        Path missing = dir.resolve("nope");
        e = assertThrows(ConfigException.class, () -> checked(conf(intakeWith(missing))));
        assertTrue(e.getMessage().contains("intake_auth_credentials: " + missing + ": no such file"), e.getMessage());
    }

    @Test
    void ownerOnlyAndTheServiceGroupAreAccepted() throws Exception {
        // 0640 with the file's group the process's own (the daemon's group in the packaged layout).
        Path auth = secret("upstream.secret", "rw-r-----");
        Path creds = secret("intake.creds", "rw-------");
        assertDoesNotThrow(() -> checked(conf(intakeWith(creds) + upstreamWith(auth))));
    }
}
