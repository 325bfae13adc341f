package relaybox.relay.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Errors that need more than one stage's keys, and the shape of every config error. */
class RelayConfigTest {

    private static final String UPSTREAM = "\n[[upstream]]\ntype = \"outbox\"\ndir = \"/tmp/outbox\"\n";

    private static ConfigException error(String toml) {
        return assertThrows(ConfigException.class,
                () -> RelayConfig.from(Path.of("t.conf"), ConfigReader.parse("t.conf", toml)));
    }

    @Test
    void signatureExpiryMustOutliveTheQueue() {
        ConfigException e = error("dkim_expiry = \"2d\"\nqueue_lifetime = \"5d\"" + UPSTREAM);
        assertEquals("t.conf: dkim_expiry: must be 0s or longer than queue_lifetime (5d) (got \"2d\")",
                e.getMessage());
    }

    @Test
    void failedRetentionIsReadAndMustBeMoreThanZero() throws Exception {
        assertEquals(java.time.Duration.ofDays(5), RelayConfig.from(Path.of("t.conf"),
                ConfigReader.parse("t.conf", UPSTREAM.strip())).queue().failedRetention(), "the default");
        assertEquals(java.time.Duration.ofHours(12), RelayConfig.from(Path.of("t.conf"),
                ConfigReader.parse("t.conf", "queue_failed_retention = \"12h\"" + UPSTREAM)).queue().failedRetention());
        assertEquals("t.conf: queue_failed_retention: must be more than 0 (failed mail is kept that long for the "
                + "operator) (got \"0s\")", error("queue_failed_retention = \"0s\"" + UPSTREAM).getMessage());
        assertTrue(error("queue_failed_retention = \"a week\"" + UPSTREAM).getMessage()
                .startsWith("t.conf: queue_failed_retention: expected a duration"));
    }

    @Test
    void spoolCompactionKeys() throws Exception {
        QueueConfig d = RelayConfig.from(Path.of("t.conf"), ConfigReader.parse("t.conf", UPSTREAM.strip())).queue();
        assertEquals(25, d.compactLivePercent(), "the default");
        assertEquals(java.time.Duration.ofMinutes(15), d.compactMinAge(), "the default");
        QueueConfig c = RelayConfig.from(Path.of("t.conf"), ConfigReader.parse("t.conf",
                "queue_compact_live_percent = 0\nqueue_compact_min_age = \"1h\"" + UPSTREAM)).queue();
        assertEquals(0, c.compactLivePercent(), "0 turns compaction off");
        assertEquals(java.time.Duration.ofHours(1), c.compactMinAge());
        assertTrue(error("queue_compact_live_percent = 95" + UPSTREAM).getMessage()
                .startsWith("t.conf: queue_compact_live_percent:"));
    }

    @Test
    void unknownKeyIsNamed() {
        ConfigException e = error("queue_dri = \"/x\"" + UPSTREAM);
        assertTrue(e.getMessage().startsWith("t.conf: queue_dri: unknown key"), e.getMessage());
    }

    @Test
    void unknownKeyInsideATableIsNamedWithItsTable() {
        ConfigException e = error("[[upstream]]\ntype = \"outbox\"\ndir = \"/tmp/o\"\nhots = \"x\"\n");
        assertTrue(e.getMessage().startsWith("t.conf: upstream[0].hots: unknown key"), e.getMessage());
    }

    @Test
    void badValuesNameKeyAndValue() {
        assertEquals("t.conf: queue_retry_min: expected a duration like \"30s\", \"5m\", \"2h\" or \"5d\" (got \"soon\")",
                error("queue_retry_min = \"soon\"" + UPSTREAM).getMessage());
        assertEquals("t.conf: queue_min_free_space: expected a size like \"25MiB\" or a number of bytes (got \"lots\")",
                error("queue_min_free_space = \"lots\"" + UPSTREAM).getMessage());
        assertTrue(error("queue_dir = 5" + UPSTREAM).getMessage().startsWith("t.conf: queue_dir: expected a string"));
    }

    @Test
    void credentialsAreNeverConfiguredForAPlainTextLinkOverTheNetwork() throws Exception {
        ConfigException e = error("[[upstream]]\nhost = \"smtp.esp.example\"\ntls = \"none\"\nauth_file = \"/etc/s\"\n");
        assertTrue(e.getMessage().startsWith("t.conf: upstream[0].auth_file: credentials are never sent without TLS"),
                e.getMessage());
        RelayConfig.from(Path.of("t.conf"), ConfigReader.parse("t.conf",
                "[[upstream]]\nhost = \"127.0.0.1\"\ntls = \"none\"\nauth_file = \"/etc/s\"\n"));
    }

    @Test
    void brokenTomlSaysWhere() {
        assertTrue(error("queue_dir = \"/x").getMessage().startsWith("t.conf: not valid TOML"));
    }

    @Test
    void effectiveConfigurationListsDefaults() throws Exception {
        RelayConfig c = RelayConfig.from(Path.of("t.conf"), ConfigReader.parse("t.conf", UPSTREAM));
        assertTrue(c.effective().contains("queue_lifetime = \"5d\"\n"), c.effective());
        assertTrue(c.effective().contains("[[upstream]]\n"), c.effective());
    }
}
