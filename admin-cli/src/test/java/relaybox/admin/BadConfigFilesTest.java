package relaybox.admin;

import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;
import relaybox.relay.RelayDaemon;
import relaybox.relay.forward.TestCerts;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPairGenerator;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Each file the configuration names, broken in each way an operator breaks it (missing, readable
 * by others, not what it should hold): {@code relaybox config check} fails naming the key and the
 * file, and {@code relaybox run} (a child JVM, as systemd runs it) exits 78 (EX_CONFIG, which the
 * unit does not restart) with the key on stderr and no stack trace. Before issue 20 the check said
 * "ok" and the daemon exited 71 with a Java stack trace, restarted by systemd every 5 s.
 */
class BadConfigFilesTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    /** A broken file: the lines it adds to a config, and how to make the files it names. */
    record Case(String name, String key, String conf, String file, String content, String mode) {
        @Override
        public String toString() {
            return name;
        }
    }

    static List<Case> cases() {
        String up = "[[upstream]]\nname = \"esp\"\nhost = \"127.0.0.1\"\nport = 2587\ntls = \"starttls\"\n";
        String goodSecret = "username=u\npassword=p\n";
        return List.of(
                new Case("auth_file missing", "upstream[0].auth_file", up + "auth_file = \"%s\"\n", null, null, null),
                new Case("auth_file world-readable", "upstream[0].auth_file", up + "auth_file = \"%s\"\n",
                        "up.secret", goodSecret, "rw-r--r--"),
                new Case("auth_file without a password", "upstream[0].auth_file", up + "auth_file = \"%s\"\n",
                        "up.secret", "username=u\n", "rw-------"),
                new Case("ca_file missing", "upstream[0].ca_file", up + "ca_file = \"%s\"\n", null, null, null),
                new Case("ca_file not a certificate", "upstream[0].ca_file", up + "ca_file = \"%s\"\n", "ca.pem",
                        "hello\n", "rw-r--r--"),
                new Case("DKIM key_file missing", "dkim_key[0].key_file",
                        "[[dkim_key]]\ndomain = \"example.org\"\nselector = \"s1\"\nkey_file = \"%s\"\n",
                        null, null, null),
                new Case("DKIM key_file not a key", "dkim_key[0].key_file",
                        "[[dkim_key]]\ndomain = \"example.org\"\nselector = \"s1\"\nkey_file = \"%s\"\n",
                        "dkim.pem", "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "rw-------"),
                new Case("intake_tls_cert missing", "intake_tls_cert",
                        "intake_tls_cert = \"%s\"\nintake_tls_key = \"KEY\"\n", null, null, null),
                new Case("intake_tls_key world-readable", "intake_tls_key",
                        "intake_tls_cert = \"CERT\"\nintake_tls_key = \"%s\"\n", "tls.key", "KEYPEM", "rw-r--r--"),
                new Case("intake_auth_credentials missing", "intake_auth_credentials",
                        "intake_tls_cert = \"CERT\"\nintake_tls_key = \"KEY\"\nintake_auth_credentials = \"%s\"\n",
                        null, null, null));
    }

    private Path write(Case c) throws Exception {
        Path cert = TestCerts.selfSigned("relay.test").writePem(tmp.resolve("good-cert.pem"));
        Path key = tmp.resolve("good.key");
        Files.writeString(key, keyPem());
        Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
        Path target = tmp.resolve(c.file() == null ? "missing.file" : c.file());
        if (c.file() != null) {
            Files.writeString(target, c.content().replace("KEYPEM", keyPem()));
            Files.setPosixFilePermissions(target, PosixFilePermissions.fromString(c.mode()));
        }
        Path conf = tmp.resolve("relaybox.conf");
        Files.writeString(conf, """
                intake_listen = ["127.0.0.1:0"]
                queue_dir = "%1$s/queue"
                queue_min_free_space = 0
                control_socket = "%1$s/control.sock"
                control_group = ""
                """.formatted(tmp) + c.conf().replace("%s", target.toString()).replace("\"CERT\"", "\"" + cert + "\"")
                .replace("\"KEY\"", "\"" + key + "\"")
                + (c.conf().contains("[[upstream]]") ? "" : "[[upstream]]\ntype = \"outbox\"\ndir = \"" + tmp
                + "/outbox\"\n"));
        return conf;
    }

    private static String keyPem() throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256);
        String b64 = Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII))
                .encodeToString(g.generateKeyPair().getPrivate().getEncoded());
        return "-----BEGIN PRIVATE KEY-----\n" + b64 + "\n-----END PRIVATE KEY-----\n";
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("cases")
    void configCheckNamesTheKeyAndRunExits78WithoutAStackTrace(Case c) throws Exception {
        Path conf = write(c);
        Path file = tmp.resolve(c.file() == null ? "missing.file" : c.file());

        // As root (CI), the check judges for the daemon's user; root itself here, so that each case
        // fails for its own reason.
        AdminHarness.Result check = AdminHarness.exec(conf, Map.of(), "", "config", "check", "--user", "root",
                conf.toString());
        assertEquals(Cli.USAGE, check.code(), check.toString());
        assertTrue(check.err().contains(c.key()) && check.err().contains(file.toString()), check.toString());

        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process p = new ProcessBuilder(java, "-cp", cp, "relaybox.admin.Main", "run", "--config", conf.toString())
                .redirectOutput(tmp.resolve("out.log").toFile()).redirectError(tmp.resolve("err.log").toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the daemon did not stop on a bad " + c.key());
        String err = Files.readString(tmp.resolve("err.log"));
        String out = Files.readString(tmp.resolve("out.log"));
        assertEquals(RelayDaemon.EX_CONFIG, p.exitValue(), "stderr:\n" + err + "stdout:\n" + out);
        assertTrue(err.contains(c.key()) && err.contains(file.toString()), err);
        assertFalse(err.contains("\tat ") || out.contains("\tat ") || err.contains("Exception"),
                "no stack trace:\n" + err + out);
    }

    @org.junit.jupiter.api.Test
    void configCheckOnAMissingFileSaysSo() {
        Path conf = tmp.resolve("no-such.conf");
        AdminHarness.Result check = AdminHarness.exec(conf, Map.of(), "", "config", "check", conf.toString());
        assertEquals(Cli.USAGE, check.code(), check.toString());
        assertTrue(check.err().contains(conf + ": cannot read the configuration: no such file"), check.toString());
    }

    @org.junit.jupiter.api.Test
    void configCheckAsRootJudgesForTheDaemonsUser() throws Exception {
        org.junit.jupiter.api.Assumptions.assumeTrue("root".equals(System.getProperty("user.name")),
                "only root can read a file the daemon's user cannot");
        org.junit.jupiter.api.Assumptions.assumeTrue(relaybox.relay.ConfigFiles.ServiceUser.lookup("nobody") != null);
        Path conf = write(new Case("auth_file 0600 root", "upstream[0].auth_file",
                "[[upstream]]\nname = \"esp\"\nhost = \"127.0.0.1\"\nport = 2587\nauth_file = \"%s\"\n",
                "up.secret", "username=u\npassword=p\n", "rw-------"));
        AdminHarness.Result check = AdminHarness.exec(conf, Map.of(), "", "config", "check", "--user", "nobody",
                conf.toString());
        assertEquals(Cli.USAGE, check.code(), check.toString());
        assertTrue(check.err().contains("upstream[0].auth_file") && check.err().contains("user nobody cannot read it"),
                check.toString());
        assertEquals(Cli.OK, AdminHarness.exec(conf, Map.of(), "", "config", "check", "--user", "root",
                conf.toString()).code());
    }
}
