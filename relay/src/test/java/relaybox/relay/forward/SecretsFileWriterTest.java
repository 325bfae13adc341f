package relaybox.relay.forward;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** A rotated refresh token replaces its line only; the mode stays; nothing else is left behind. */
class SecretsFileWriterTest {

    @TempDir
    Path dir;

    @Test
    void replacesOneLineKeepsTheRestAndTheMode() throws Exception {
        Path f = dir.resolve("ms365.secret");
        Files.writeString(f, "# the relay's mailbox\nusername=relay@corp.example\nrefresh_token=old\nclient_secret=a=b\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-r-----"));
        SecretsFileWriter.replace(f, "refresh_token", "new-token");
        assertEquals("# the relay's mailbox\nusername=relay@corp.example\nrefresh_token=new-token\nclient_secret=a=b\n",
                Files.readString(f));
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
        assertEquals(1, Files.list(dir).count(), "no temporary file left");
        assertEquals("new-token", Credentials.read(f).refreshToken());
    }

    @Test
    void aWiderModeIsNarrowedAndAMissingKeyAppended() throws Exception {
        Path f = dir.resolve("s");
        Files.writeString(f, "username=u\nclient_secret=x\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-rw----"));
        SecretsFileWriter.replace(f, "refresh_token", "t");
        assertEquals("username=u\nclient_secret=x\nrefresh_token=t\n", Files.readString(f));
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
    }

    @Test
    void theOwnerAndGroupStayWhenRootRewritesTheFile() throws Exception {
        // relaybox upstream login runs as root; the file must stay the service user's.
        org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")), "needs root");
        Path f = dir.resolve("s");
        Files.writeString(f, "username=u\nrefresh_token=x\n");
        var lookup = f.getFileSystem().getUserPrincipalLookupService();
        var nobody = lookup.lookupPrincipalByName("nobody");
        Files.setOwner(f, nobody);
        SecretsFileWriter.set(f, new java.util.LinkedHashMap<>(java.util.Map.of("refresh_token", "y")));
        assertEquals(nobody, Files.getOwner(f));
        assertEquals("username=u\nrefresh_token=y\n", Files.readString(f));
    }

    @Test
    void aMissingFileIsCreatedForItsOwnerOnly() throws Exception {
        Path f = dir.resolve("new.secret");
        var values = new java.util.LinkedHashMap<String, String>();
        values.put("username", "u");
        values.put("refresh_token", "t");
        SecretsFileWriter.set(f, values);
        assertEquals("username=u\nrefresh_token=t\n", Files.readString(f));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(f)));
    }

    @Test
    void aLineBreakInAValueIsRefused() throws Exception {
        Path f = dir.resolve("s");
        Files.writeString(f, "username=u\nrefresh_token=x\n");
        assertThrows(java.io.IOException.class, () -> SecretsFileWriter.replace(f, "refresh_token", "a\npassword=b"));
        assertEquals("username=u\nrefresh_token=x\n", Files.readString(f));
    }
}
