package relaybox.relay;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A secret file others can read stops the daemon with 78 (EX_CONFIG), before anything starts. */
class DaemonSecretsTest {

    @TempDir
    Path dir;

    @Test
    void aReadableAuthFileExits78NamingKeyAndFile() throws Exception {
        Path auth = Files.writeString(dir.resolve("upstream.secret"), "username=u\npassword=p\n");
        Files.setPosixFilePermissions(auth, PosixFilePermissions.fromString("rw-r--r--"));
        Path f = Files.writeString(dir.resolve("relaybox.conf"), "queue_dir = \"" + dir.resolve("q") + "\"\n"
                + "[[upstream]]\nname = \"esp\"\nhost = \"smtp.esp.example\"\nauth_file = \"" + auth + "\"\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = DaemonTest.runCapturingStderr(err, "run", "--config", f.toString());
        assertEquals(RelayDaemon.EX_CONFIG, rc, err.toString());
        assertTrue(err.toString().contains("upstream[0].auth_file: " + auth + ": other users can access"), err.toString());
        assertTrue(Files.notExists(dir.resolve("q")), "nothing started");
    }

    @Test
    void anOauthUpstreamWithoutARefreshTokenExits78WithoutShowingTheSecret() throws Exception {
        Path auth = Files.writeString(dir.resolve("ms365.secret"), "username=u@corp.example\npassword=hunter2-secret\n");
        Files.setPosixFilePermissions(auth, PosixFilePermissions.fromString("rw-------"));
        Path f = Files.writeString(dir.resolve("relaybox.conf"), "queue_dir = \"" + dir.resolve("q") + "\"\n"
                + "[[upstream]]\nname = \"ms365\"\nhost = \"smtp.office365.com\"\nauth_file = \"" + auth + "\"\n"
                + "oauth_provider = \"microsoft\"\noauth_client_id = \"abc\"\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = DaemonTest.runCapturingStderr(err, "run", "--config", f.toString());
        assertEquals(RelayDaemon.EX_CONFIG, rc, err.toString());
        assertTrue(err.toString().contains("upstream[0].auth_file: cannot be used: expected a refresh_token= line"),
                err.toString());
        assertTrue(!err.toString().contains("hunter2-secret"), err.toString());
        assertTrue(Files.notExists(dir.resolve("q")), "nothing started");
    }
}
