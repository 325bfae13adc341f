package relaybox.relay.dkim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DkimKeygenTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void writesA0600KeyThatLoadsAndPrintsItsRecord() throws Exception {
        for (DkimAlgorithm a : DkimAlgorithm.values()) {
            DkimKeygen.Result r = DkimKeygen.generate("Example.COM", "s-" + a.keyType(), a, 1024,
                    dir.resolve("keys"));
            assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(r.keyFile())));
            assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("keys"))));
            assertEquals(dir.resolve("keys/example.com.s-" + a.keyType() + ".pem"), r.keyFile());
            assertEquals(r.key().publicKey(), DkimKeys.readPem(r.keyFile()).getPublic());
            DkimKeys.checkPermissions(r.keyFile(), "test");
            assertTrue(r.zoneLine().startsWith("s-" + a.keyType() + "._domainkey.example.com. IN TXT ( \"v=DKIM1; k="
                    + a.keyType() + "; p="), r.zoneLine());
            assertTrue(r.configSnippet().contains("key_file = \"" + r.keyFile() + "\""));
        }
    }

    @Test
    void neverOverwritesAndRefusesWeakOrBadInput() throws Exception {
        DkimKeygen.generate("example.com", "s1", DkimAlgorithm.ED25519_SHA256, 0, dir);
        assertThrows(FileAlreadyExistsException.class,
                () -> DkimKeygen.generate("example.com", "s1", DkimAlgorithm.ED25519_SHA256, 0, dir));
        assertThrows(IllegalArgumentException.class,
                () -> DkimKeygen.generate("example.com", "s2", DkimAlgorithm.RSA_SHA256, 512, dir));
        assertThrows(IllegalArgumentException.class,
                () -> DkimKeygen.generate("example.com", "bad/selector", DkimAlgorithm.ED25519_SHA256, 0, dir));
    }

    @Test
    void longRecordsAreSplitInto255CharacterStrings() {
        String record = "x".repeat(600);
        var parts = DkimKeygen.quotedStrings(record);
        assertEquals(3, parts.size());
        assertEquals(257, parts.get(0).length());
    }
}
