package relaybox.relay.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ForwardConfigTest {

    private static ForwardConfig parse(String toml) throws ConfigException {
        ConfigReader r = ConfigReader.parse("test.conf", toml);
        ForwardConfig c = ForwardConfig.from(r);
        r.finish();
        return c;
    }

    @Test
    void defaultsAndOneSmtpUpstream() throws Exception {
        ForwardConfig c = parse("[[upstream]]\nhost = \"smtp.esp.example\"\n");
        assertEquals(ForwardConfig.defaults(c.upstreams()), c);
        UpstreamConfig u = c.upstreams().get(0);
        assertEquals("upstream-1", u.name());
        assertEquals(relaybox.relay.config.TlsMode.STARTTLS, u.tls());
        assertEquals(587, u.port());
        assertEquals(100, u.messagesPerConnection());
    }

    @Test
    void everyKey() throws Exception {
        ForwardConfig c = parse("""
                forward_concurrency = 8
                forward_idle_timeout = "2m"
                forward_noop_interval = "10s"
                forward_connect_timeout = "5s"
                forward_greeting_timeout = "6s"
                forward_command_timeout = "7s"
                forward_data_timeout = "8s"
                forward_probe_interval = "1s"
                forward_helo_name = "relay.corp.example"
                forward_dsn = false
                forward_dsn_rate = 5
                [[upstream]]
                name = "ses"
                host = "email-smtp.eu-west-1.amazonaws.com"
                tls = "tls"
                ca_file = "/etc/ssl/ca.pem"
                auth_file = "/etc/relaybox/ses.auth"
                messages_per_connection = 50
                max_connections = 2
                rate_per_second = 14
                headers = ["X-SES-CONFIGURATION-SET: marketing"]
                envelope_sender = "bounces@corp.example"
                temporary_replies = ["454 Throttling"]
                sender_domains = ["News.Example"]
                [[upstream]]
                name = "dev"
                type = "outbox"
                dir = "/tmp/outbox"
                """);
        assertEquals(8, c.concurrency());
        assertEquals(Duration.ofMinutes(2), c.idleTimeout());
        assertEquals(Duration.ofSeconds(8), c.dataTimeout());
        assertEquals("relay.corp.example", c.heloName());
        assertEquals(false, c.dsn());
        UpstreamConfig ses = c.upstreams().get(0);
        assertEquals(465, ses.port());
        assertEquals(14.0, ses.ratePerSecond());
        assertEquals(List.of("news.example"), ses.senderDomains());
        assertTrue(c.upstreams().get(1).isOutbox());
    }

    @Test
    void errorsNameTheKey() {
        assertError("[[upstream]]\ntls = \"starttls\"\n", "upstream[0].host: an smtp upstream needs");
        assertError("[[upstream]]\nhost = \"h\"\ntls = \"ssl\"\n", "upstream[0].tls: expected one of");
        assertError("[[upstream]]\nhost = \"h\"\nheaders = [\"no colon\"]\n", "upstream[0].headers:");
        assertError("[[upstream]]\nhost = \"h\"\ntemporary_replies = [\"Throttling\"]\n",
                "upstream[0].temporary_replies: a reply rule starts with a reply code");
        assertError("forward_probe_interval = \"0s\"\n[[upstream]]\nhost = \"h\"\n", "forward_probe_interval: must be more than 0");
        assertError("forward_concurrency = 4\n", "upstream: at least one [[upstream]]");
        assertError("[[upstream]]\nhost = \"h\"\nhots = \"x\"\n", "upstream[0].hots: unknown key");
        assertError("[[upstream]]\nname = \"a\"\nhost = \"h\"\n[[upstream]]\nname = \"a\"\nhost = \"h\"\n",
                "upstream[1].name: two [[upstream]] tables have this name");
    }

    /** tls = "none" with AUTH only towards a loopback address; a name that merely starts like one is not. */
    @Test
    void plaintextAuthOnlyToARealLoopbackAddress() throws Exception {
        for (String host : new String[] {"127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"}) {
            parse("[[upstream]]\nhost = \"" + host + "\"\ntls = \"none\"\nauth_file = \"/x\"\n");
        }
        for (String host : new String[] {"127.0.0.1.evil.example", "127.evil.example", "::1.evil", "localhost.evil",
                "10.0.0.1", "128.0.0.1"}) {
            assertError("[[upstream]]\nhost = \"" + host + "\"\ntls = \"none\"\nauth_file = \"/x\"\n",
                    "upstream[0].auth_file: credentials are never sent without TLS");
        }
    }

    private static void assertError(String toml, String want) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse(toml));
        assertTrue(e.getMessage().contains(want), "got \"" + e.getMessage() + "\", want it to contain \"" + want + "\"");
    }

    /** Every forward_* key is documented in the shipped file with the code's default. */
    @Test
    void shippedConfigDocumentsEveryForwardKeyWithItsDefault() throws Exception {
        Path shipped = Path.of("..", "etc", "relaybox.conf");
        String text = Files.readString(shipped);
        ForwardConfig d = ForwardConfig.defaults(List.of());
        String[][] keys = {
                {"forward_concurrency", "4"}, {"forward_idle_timeout", "\"60s\""}, {"forward_noop_interval", "\"30s\""},
                {"forward_connect_timeout", "\"30s\""}, {"forward_greeting_timeout", "\"60s\""},
                {"forward_command_timeout", "\"2m\""}, {"forward_data_timeout", "\"10m\""},
                {"forward_probe_interval", "\"5s\""}, {"forward_helo_name", "\"\""}, {"forward_dsn", "true"},
                {"forward_dsn_rate", "60"}};
        for (String[] k : keys) {
            Matcher m = Pattern.compile("(?m)^#" + k[0] + " = (.*)$").matcher(text);
            assertTrue(m.find(), k[0] + " is not documented in " + shipped);
            assertEquals(k[1], m.group(1).trim(), k[0] + " default in " + shipped);
            // The documented value parses to the code's default.
            ForwardConfig parsed = parse(k[0] + " = " + k[1] + "\n[[upstream]]\nhost = \"h\"\n");
            assertEquals(ForwardConfig.defaults(parsed.upstreams()), parsed, k[0]);
        }
        assertEquals(4, d.concurrency());
        // The shipped file itself is valid.
        ForwardConfig shippedCfg = ForwardConfig.from(ConfigReader.load(shipped));
        assertTrue(shippedCfg.upstreams().get(0).isOutbox());
    }
}
