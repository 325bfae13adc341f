package relaybox.relay.dkim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.DkimConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * dkim_no_key = "sign_with": mail from a domain without keys (a local app's
 * mailer-daemon@other.example) is signed with the default domain's keys, and verifies.
 */
class SignWithTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    private static DkimConfig config(DkimConfig.NoKey noKey, String signWith) {
        return new DkimConfig("relaxed", "relaxed", DkimConfig.DEFAULT_HEADERS,
                DkimConfig.DEFAULT_OVERSIGN, Duration.ZERO, DkimConfig.KeyBy.FROM, false, noKey, signWith, List.of());
    }

    private static final byte[] MESSAGE = DkimFixtures.crlf("""
            From: Mailer Daemon <mailer-daemon@other.example>
            To: admin@x.example
            Subject: cron output
            Date: Sun, 22 Nov 2026 12:00:00 +0000

            disk 91% full
            """);

    @Test
    void mailFromADomainWithoutAKeyIsSignedWithTheDefaultDomainsKeys() throws Exception {
        DkimSigner signer = new DkimSigner(config(DkimConfig.NoKey.SIGN_WITH, "example.com"), DkimFixtures.keys(),
                DkimFixtures.CLOCK);
        byte[] signed = DkimFixtures.sign(signer, MESSAGE, "", 7);
        List<DkimVerifier.Result> r = DkimFixtures.verifier().verify(signed);
        assertEquals(2, r.size(), "dual-signed with example.com's rsa and ed25519 keys: " + r);
        assertTrue(r.stream().allMatch(DkimVerifier.Result::pass), r.toString());
        String head = new String(signed, java.nio.charset.StandardCharsets.ISO_8859_1);
        assertEquals(2, head.split("d=example.com;", -1).length - 1, head);

        Path keys = dir.resolve("keys.txt");
        DkimFixtures.writeKeysFile(keys, DkimFixtures.keys());
        Path eml = Files.write(dir.resolve("signed.eml"), signed);
        Process p = new ProcessBuilder(IndependentVerifiersTest.PYTHON, IndependentVerifiersTest.script("verify.py"),
                keys.toString(), eml.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), java.nio.charset.StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, java.util.concurrent.TimeUnit.SECONDS), "dkimpy did not finish");
        assertEquals(0, p.exitValue(), out);
        assertEquals(2, out.lines().filter(l -> l.startsWith("pass ")).count(), out);
    }

    @Test
    void aDomainWithItsOwnKeyKeepsIt() throws Exception {
        DkimSigner signer = new DkimSigner(config(DkimConfig.NoKey.SIGN_WITH, "xn--bcher-kva.example"),
                DkimFixtures.keys(), DkimFixtures.CLOCK);
        byte[] own = DkimFixtures.crlf("From: a@example.com\nSubject: x\n\nbody\n");
        String head = new String(DkimFixtures.sign(signer, own, "", 1), java.nio.charset.StandardCharsets.ISO_8859_1);
        assertTrue(head.contains("d=example.com;") && !head.contains("d=xn--bcher-kva.example;"), head);
    }

    @Test
    void signWithNeedsAnActiveKeyForItsDomainAndIsRefusedOtherwise() {
        String key = "[[dkim_key]]\ndomain = \"example.com\"\nselector = \"s1\"\nkey_file = \"/k.pem\"\n";
        ConfigException e = assertThrows(ConfigException.class, () -> DkimConfig.from(
                ConfigReader.parse("t", "dkim_no_key = \"sign_with\"\n" + key)));
        assertTrue(e.getMessage().contains("dkim_sign_with: dkim_no_key = \"sign_with\" needs the domain"), e.getMessage());
        e = assertThrows(ConfigException.class, () -> DkimConfig.from(
                ConfigReader.parse("t", "dkim_no_key = \"sign_with\"\ndkim_sign_with = \"other.example\"\n" + key)));
        assertTrue(e.getMessage().contains("no active [[dkim_key]] has domain = \"other.example\""), e.getMessage());
        e = assertThrows(ConfigException.class, () -> DkimConfig.from(
                ConfigReader.parse("t", "dkim_sign_with = \"example.com\"\n" + key)));
        assertTrue(e.getMessage().contains("is used only with dkim_no_key = \"sign_with\""), e.getMessage());
        assertEquals("example.com", assertDoesNotThrowConfig("dkim_no_key = \"sign_with\"\n"
                + "dkim_sign_with = \"Example.COM\"\n" + key).signWith());
    }

    private static DkimConfig assertDoesNotThrowConfig(String toml) {
        try {
            return DkimConfig.from(ConfigReader.parse("t", toml));
        } catch (ConfigException e) {
            throw new AssertionError(e.getMessage(), e);
        }
    }
}
