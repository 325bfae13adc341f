package relaybox.relay.intake;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CredentialsTest {

    @TempDir
    Path dir;

    @Test
    void verifiesHashesAndNeverStoresPasswords() throws Exception {
        String line = "app:" + Credentials.hash("correct horse");
        assertFalse(line.contains("correct horse"));
        Path f = dir.resolve("creds");
        Files.writeString(f, "# comment\n\n" + line + "\n");
        Credentials c = Credentials.load(f);
        assertTrue(c.verify("app", "correct horse"));
        assertFalse(c.verify("app", "correct horse "));
        assertFalse(c.verify("other", "correct horse"));
    }

    @Test
    void aRepeatedGoodLoginSkipsPbkdf2ButAWrongPasswordNever() throws Exception {
        Path f = dir.resolve("creds");
        Files.writeString(f, "app:" + Credentials.hash("s3cret") + "\nops:" + Credentials.hash("other") + "\n");
        Credentials c = Credentials.load(f);
        assertTrue(c.verify("app", "s3cret"));
        assertEquals(1, c.derivations());
        assertTrue(c.verify("app", "s3cret"));
        assertEquals(1, c.derivations(), "a remembered good login");
        assertFalse(c.verify("app", "s3cret!"));
        assertEquals(2, c.derivations(), "a wrong password is always checked the slow way");
        assertFalse(c.verify("ops", "s3cret"), "one user's remembered password is not another's");
        assertTrue(c.verify("app", "s3cret"));
        assertEquals(3, c.derivations());
    }

    @Test
    void badLineNamesFileAndLine() throws Exception {
        Path f = dir.resolve("creds");
        Files.writeString(f, "app:plaintext\n");
        IOException e = assertThrows(IOException.class, () -> Credentials.load(f));
        assertTrue(e.getMessage().contains("creds:1:"), e.getMessage());
    }
}
