package relaybox.relay.dkim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.DkimConfig;

import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DkimKeysTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    Path write(String name, String pem, String mode) throws Exception {
        Path p = dir.resolve(name);
        Files.writeString(p, pem);
        Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(mode));
        return p;
    }

    static String pkcs1(KeyPair k) throws Exception {
        StringWriter s = new StringWriter();
        try (org.bouncycastle.openssl.jcajce.JcaPEMWriter w = new org.bouncycastle.openssl.jcajce.JcaPEMWriter(s)) {
            w.writeObject(k); // a KeyPair is written as "BEGIN RSA PRIVATE KEY" (PKCS#1)
        }
        return s.toString();
    }

    DkimConfig config(String toml) throws ConfigException {
        return DkimConfig.from(ConfigReader.parse("test.conf", toml));
    }

    static String table(String domain, String selector, Path file, String extra) {
        return "[[dkim_key]]\ndomain = \"" + domain + "\"\nselector = \"" + selector + "\"\nkey_file = \"" + file
                + "\"\n" + extra + "\n";
    }

    @Test
    void loadsPkcs1AndPkcs8RsaAndEd25519() throws Exception {
        Path p1 = write("rsa1.pem", pkcs1(DkimFixtures.rsa()), "rw-------");
        Path p8 = write("rsa8.pem", DkimKeygen.pkcs8Pem(DkimFixtures.rsa()), "rw-------");
        Path ed = write("ed.pem", DkimKeygen.pkcs8Pem(DkimFixtures.ed25519()), "rw-------");
        DkimKeys keys = DkimKeys.load(config(table("example.com", "a", p1, "")
                + table("example.org", "b", p8, "algorithm = \"rsa\"")
                + table("example.com", "e", ed, "algorithm = \"ed25519\"")));
        assertEquals(3, keys.all().size());
        assertEquals(DkimFixtures.rsa().getPublic(), keys.all().get(0).publicKey());
        assertEquals(keys.all().get(0).txtRecord(), keys.all().get(1).txtRecord());
        assertEquals(DkimAlgorithm.ED25519_SHA256, keys.all().get(2).algorithm());
        assertEquals(DkimFixtures.key("x", "y", DkimFixtures.ed25519()).txtRecord(), keys.all().get(2).txtRecord());
        assertEquals(2, keys.activeFor("example.com", false).size());
    }

    @Test
    void refusesKeysOthersCanRead() throws Exception {
        for (String mode : List.of("rw-r--r--", "rw----r--", "rw--w----", "rw-------")) {
            Path p = write("k-" + mode + ".pem", DkimKeygen.pkcs8Pem(DkimFixtures.ed25519()), mode);
            if (mode.equals("rw-------")) {
                DkimKeys.load(config(table("example.com", "s", p, "")));
            } else {
                ConfigException e = assertThrows(ConfigException.class,
                        () -> DkimKeys.load(config(table("example.com", "s", p, ""))), mode);
                assertTrue(e.getMessage().contains("dkim_key[0].key_file") && e.getMessage().contains(mode),
                        e.getMessage());
            }
        }
    }

    @Test
    void groupReadIsAllowedOnlyForTheDaemonsOwnGroup() throws Exception {
        Path p = write("g.pem", DkimKeygen.pkcs8Pem(DkimFixtures.ed25519()), "rw-r-----");
        int own = DkimKeys.effectiveGid().orElseThrow();
        Files.setAttribute(p, "unix:gid", own);
        DkimKeys.load(config(table("example.com", "s", p, "")));
        org.junit.jupiter.api.Assumptions.assumeTrue(DkimKeys.effectiveGid().get() == 0,
                "changing a file's group to a foreign one needs root");
        Files.setAttribute(p, "unix:gid", own + 1);
        ConfigException e = assertThrows(ConfigException.class,
                () -> DkimKeys.load(config(table("example.com", "s", p, ""))));
        assertTrue(e.getMessage().contains("not the daemon's own group"), e.getMessage());
    }

    @Test
    void toolsOnlyWarnAboutPermissions() throws Exception {
        Path p = write("tool.pem", DkimKeygen.pkcs8Pem(DkimFixtures.ed25519()), "rw-r--r--");
        List<String> warnings = new ArrayList<>();
        DkimKeys keys = DkimKeys.load(config(table("example.com", "s", p, "")), warnings::add, false);
        assertEquals(1, keys.all().size());
        assertEquals(1, warnings.size());
        assertTrue(warnings.get(0).contains("other users can read"), warnings.toString());
    }

    @Test
    void refusesShortRsaAndWarnsUnder2048() throws Exception {
        Path small = write("small.pem", DkimKeygen.pkcs8Pem(DkimFixtures.generate("RSA", 768)), "rw-------");
        ConfigException e = assertThrows(ConfigException.class,
                () -> DkimKeys.load(config(table("example.com", "s", small, ""))));
        assertTrue(e.getMessage().contains("768 bits"), e.getMessage());
        Path k1024 = write("k1024.pem", DkimKeygen.pkcs8Pem(DkimFixtures.idnRsa()), "rw-------");
        List<String> warnings = new ArrayList<>();
        DkimKeys.load(config(table("example.com", "s", k1024, "")), warnings::add);
        assertEquals(1, warnings.size());
        assertTrue(warnings.get(0).contains("1024 bits"), warnings.toString());
    }

    @Test
    void refusesWrongAlgorithmGarbageAndTwoActiveKeys() throws Exception {
        Path ed = write("ed.pem", DkimKeygen.pkcs8Pem(DkimFixtures.ed25519()), "rw-------");
        Path ed2 = write("ed2.pem", DkimKeygen.pkcs8Pem(DkimFixtures.ed25519()), "rw-------");
        Path junk = write("junk.pem", "hello\n", "rw-------");
        assertThrows(ConfigException.class,
                () -> DkimKeys.load(config(table("example.com", "s", ed, "algorithm = \"rsa\""))));
        assertThrows(ConfigException.class, () -> DkimKeys.load(config(table("example.com", "s", junk, ""))));
        ConfigException two = assertThrows(ConfigException.class, () -> DkimKeys.load(config(
                table("example.com", "s1", ed, "") + table("example.com", "s2", ed2, ""))));
        assertTrue(two.getMessage().contains("dkim_key[1].active"), two.getMessage());
        // rotation: the old selector stays configured, inactive
        DkimKeys rotated = DkimKeys.load(config(
                table("example.com", "s1", ed, "active = false") + table("example.com", "s2", ed2, "")));
        assertEquals("s2", rotated.activeFor("example.com", false).get(0).selector());
        assertEquals(2, rotated.all().size());
    }

    @Test
    void parentDomainKeysOnlyWithSubdomainsOn() {
        DkimKeys keys = DkimFixtures.keys();
        assertEquals(0, keys.activeFor("mail.example.com", false).size());
        assertEquals(2, keys.activeFor("a.b.example.com", true).size());
        assertEquals(0, keys.activeFor("com", true).size());
        assertEquals(0, keys.activeFor("example.net", true).size());
    }
}
