package relaybox.admin;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.intake.Credentials;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code relaybox hash-password}: what it prints is what intake_auth_credentials accepts. */
class HashPasswordCommandTest {

    @TempDir
    Path tmp;

    private AdminHarness.Result run(String stdin, String... args) {
        return AdminHarness.exec(tmp.resolve("no.conf"), Map.of(), stdin, args);
    }

    @Test
    void theHashFromStandardInputVerifiesInTheIntakesCredentialsFile() throws Exception {
        AdminHarness.Result r = run("correct horse: battery=staple\r\nnot read\n", "hash-password");
        assertEquals(0, r.code(), r.toString());
        String hash = r.out().strip();
        assertTrue(hash.matches("pbkdf2-sha256:210000:[A-Za-z0-9+/=]+:[A-Za-z0-9+/=]+"), hash);
        assertFalse(r.out().contains("horse") || r.err().contains("horse"), "the password is never echoed");
        Path file = Files.writeString(tmp.resolve("creds"), "alice:" + hash + "\n");
        Credentials c = Credentials.load(file);
        assertTrue(c.verify("alice", "correct horse: battery=staple"));
        assertFalse(c.verify("alice", "correct horse: battery=staple\r"));
        assertFalse(c.verify("alice", "wrong"));
    }

    @Test
    void withAUserItPrintsAWholeLine() throws Exception {
        AdminHarness.Result r = run("pw\n", "hash-password", "bob");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().startsWith("bob:pbkdf2-sha256:"), r.out());
        Credentials c = Credentials.load(Files.writeString(tmp.resolve("creds"), r.out()));
        assertTrue(c.verify("bob", "pw"));
    }

    @Test
    void anEmptyPasswordOrABadUserNameIsAUsageError() {
        AdminHarness.Result r = run("", "hash-password");
        assertEquals(Cli.USAGE, r.code(), r.toString());
        assertTrue(r.err().contains("empty password"), r.err());
        r = run("pw\n", "hash-password", "a:b");
        assertEquals(Cli.USAGE, r.code(), r.toString());
    }
}
