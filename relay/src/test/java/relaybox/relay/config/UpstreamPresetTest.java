package relaybox.relay.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The table of presets: each preset's values, explicit keys winning over them, clear errors for
 * an unknown preset and a misplaced ses_region, and {@code config show} marking what came from
 * the preset.
 */
class UpstreamPresetTest {

    /** One row: the values a preset must fill in. */
    private record Row(String preset, String extra, String host, int port, TlsMode tls,
                       UpstreamConfig.AuthChoice auth, int maxConnections, double rate, int maxRecipients,
                       int perConnection, Provider provider) { }

    private static final List<Row> TABLE = List.of(
            new Row("ses", "ses_region = \"eu-west-1\"\n", "email-smtp.eu-west-1.amazonaws.com", 587,
                    TlsMode.STARTTLS, UpstreamConfig.AuthChoice.AUTO, 4, 14, 50, 100, Provider.SES),
            new Row("sendgrid", "", "smtp.sendgrid.net", 587, TlsMode.STARTTLS, UpstreamConfig.AuthChoice.AUTO,
                    4, 0, 0, 5000, Provider.SENDGRID),
            new Row("mailgun", "", "smtp.mailgun.org", 587, TlsMode.STARTTLS, UpstreamConfig.AuthChoice.AUTO,
                    4, 0, 0, 100, Provider.MAILGUN),
            new Row("postmark", "", "smtp.postmarkapp.com", 587, TlsMode.STARTTLS, UpstreamConfig.AuthChoice.AUTO,
                    4, 0, 50, 100, Provider.POSTMARK),
            new Row("microsoft365", "", "smtp.office365.com", 587, TlsMode.STARTTLS,
                    UpstreamConfig.AuthChoice.LOGIN, 3, 0.5, 500, 100, Provider.MICROSOFT),
            new Row("gmail", "", "smtp.gmail.com", 587, TlsMode.STARTTLS, UpstreamConfig.AuthChoice.AUTO,
                    4, 0, 100, 100, Provider.GOOGLE),
            new Row("google-relay", "", "smtp-relay.gmail.com", 587, TlsMode.STARTTLS,
                    UpstreamConfig.AuthChoice.AUTO, 4, 0, 100, 100, Provider.GOOGLE));

    private static UpstreamConfig upstream(String tableBody) throws ConfigException {
        return config(tableBody).forward().upstreams().get(0);
    }

    private static RelayConfig config(String tableBody) throws ConfigException {
        ConfigReader r = ConfigReader.parse("test.conf", "[[upstream]]\n" + tableBody);
        RelayConfig c = RelayConfig.from(Path.of("test.conf"), r);
        r.finish();
        return c;
    }

    @Test
    void eachPresetFillsItsValues() throws Exception {
        assertEquals(UpstreamPreset.values().length, TABLE.size(), "every preset has a row");
        for (Row row : TABLE) {
            UpstreamConfig u = upstream("preset = \"" + row.preset() + "\"\nauth_file = \"/etc/relaybox/x.secret\"\n"
                    + row.extra());
            String what = row.preset() + ": " + u;
            assertEquals(row.host(), u.host(), what);
            assertEquals(row.port(), u.port(), what);
            assertEquals(row.tls(), u.tls(), what);
            assertEquals(row.auth(), u.authMechanism(), what);
            assertEquals(row.maxConnections(), u.maxConnections(), what);
            assertEquals(row.rate(), u.ratePerSecond(), what);
            assertEquals(row.maxRecipients(), u.maxRecipients(), what);
            assertEquals(row.perConnection(), u.messagesPerConnection(), what);
            assertEquals(row.provider(), u.provider(), what);
        }
    }

    @Test
    void withoutAPresetNothingChanges() throws Exception {
        UpstreamConfig u = upstream("host = \"smtp.esp.example\"\n");
        assertEquals(Provider.GENERIC, u.provider());
        assertEquals(0, u.maxRecipients());
        assertEquals(UpstreamConfig.DEFAULT_MAX_CONNECTIONS, u.maxConnections());
        assertFalse(config("host = \"smtp.esp.example\"\n").effective().contains("# preset"));
    }

    @Test
    void everyExplicitKeyWinsOverThePreset() throws Exception {
        UpstreamConfig u = upstream("""
                preset = "microsoft365"
                host = "127.0.0.1"
                port = 2525
                tls = "none"
                auth_file = "/etc/relaybox/x.secret"
                auth_mechanism = "plain"
                max_connections = 1
                rate_per_second = 0
                max_recipients = 7
                messages_per_connection = 9
                """);
        assertEquals("127.0.0.1", u.host());
        assertEquals(2525, u.port());
        assertEquals(TlsMode.NONE, u.tls());
        assertEquals(UpstreamConfig.AuthChoice.PLAIN, u.authMechanism());
        assertEquals(1, u.maxConnections());
        assertEquals(0, u.ratePerSecond());
        assertEquals(7, u.maxRecipients());
        assertEquals(9, u.messagesPerConnection());
        assertEquals(Provider.MICROSOFT, u.provider(), "the dialect stays the provider's");
    }

    @Test
    void anExplicitTlsBringsItsOwnPort() throws Exception {
        UpstreamConfig u = upstream("preset = \"gmail\"\ntls = \"tls\"\n");
        assertEquals(TlsMode.TLS, u.tls());
        assertEquals(465, u.port(), "587 belongs to the preset's starttls, not to implicit TLS");
    }

    @Test
    void oauthMakesTheMicrosoftPresetUseXoauth2() throws Exception {
        UpstreamConfig u = upstream("""
                preset = "microsoft365"
                auth_file = "/var/lib/relaybox/ms365.secret"
                oauth_client_id = "00000000-0000-0000-0000-000000000000"
                """);
        assertEquals(UpstreamConfig.AuthChoice.XOAUTH2, u.authMechanism());
        assertEquals("microsoft", u.oauth().provider(), "the preset names the token provider");
        UpstreamConfig g = upstream("""
                preset = "gmail"
                auth_file = "/var/lib/relaybox/gmail.secret"
                oauth_client_id = "1234.apps.googleusercontent.com"
                """);
        assertEquals("google", g.oauth().provider());
    }

    @Test
    void sesTakesItsHostFromTheRegionOrAnExplicitHost() throws Exception {
        assertEquals("email-smtp.us-east-2.amazonaws.com",
                upstream("preset = \"ses\"\nses_region = \"us-east-2\"\n").host());
        assertEquals("vpce-1.email-smtp.eu-west-1.vpce.amazonaws.com",
                upstream("preset = \"ses\"\nhost = \"vpce-1.email-smtp.eu-west-1.vpce.amazonaws.com\"\n").host());
        ConfigException none = assertThrows(ConfigException.class, () -> upstream("preset = \"ses\"\n"));
        assertTrue(none.getMessage().contains("ses_region"), none.getMessage());
        ConfigException bad = assertThrows(ConfigException.class,
                () -> upstream("preset = \"ses\"\nses_region = \"eu west\"\n"));
        assertTrue(bad.getMessage().contains("expected an AWS region"), bad.getMessage());
        ConfigException elsewhere = assertThrows(ConfigException.class,
                () -> upstream("preset = \"gmail\"\nses_region = \"eu-west-1\"\n"));
        assertTrue(elsewhere.getMessage().contains("only meaningful with preset = \"ses\""), elsewhere.getMessage());
    }

    @Test
    void anUnknownPresetIsAConfigurationError() {
        ConfigException e = assertThrows(ConfigException.class, () -> upstream("preset = \"office365\"\n"));
        assertEquals("test.conf: upstream[0].preset: unknown preset; expected one of ses, sendgrid, mailgun,"
                + " postmark, microsoft365, gmail, google-relay (got \"office365\")", e.getMessage());
        ConfigException outbox = assertThrows(ConfigException.class,
                () -> upstream("type = \"outbox\"\npreset = \"gmail\"\n"));
        assertTrue(outbox.getMessage().contains("outbox"), outbox.getMessage());
    }

    @Test
    void configShowMarksThePresetsValues() throws Exception {
        String shown = config("""
                preset = "microsoft365"
                name = "ms365"
                port = 2587
                auth_file = "/etc/relaybox/x.secret"
                """).effective();
        assertTrue(shown.contains("\nhost = \"smtp.office365.com\"   # preset \"microsoft365\"\n"), shown);
        assertTrue(shown.contains("\nmax_connections = 3   # preset \"microsoft365\"\n"), shown);
        assertTrue(shown.contains("\nrate_per_second = 0.5   # preset \"microsoft365\"\n"), shown);
        assertTrue(shown.contains("\nmax_recipients = 500   # preset \"microsoft365\"\n"), shown);
        assertTrue(shown.contains("\nauth_mechanism = \"login\"   # preset \"microsoft365\"\n"), shown);
        assertTrue(shown.contains("\nport = 2587\n"), "an explicit key is not marked:\n" + shown);
        assertTrue(shown.contains("\nmessages_per_connection = 100\n"), "a plain default is not marked:\n" + shown);
        // What config show prints is still a configuration relaybox reads, with the same result.
        // (ca_file = "" is how show writes "none"; read back it would be a path, so it is left out.)
        String body = shown.substring(shown.indexOf("[[upstream]]\n") + "[[upstream]]\n".length())
                .replace("ca_file = \"\"\n", "");
        assertEquals(upstream("preset = \"microsoft365\"\nname = \"ms365\"\nport = 2587\n"
                + "auth_file = \"/etc/relaybox/x.secret\"\n"), upstream(body));
    }
}
