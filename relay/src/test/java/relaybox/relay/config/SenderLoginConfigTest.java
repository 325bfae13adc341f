package relaybox.relay.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The [[upstream.login]] tables and from_rewrite: what they read, every refusal, and config show. */
class SenderLoginConfigTest {

    private static final String UPSTREAM = "[[upstream]]\nhost = \"smtp.mailgun.org\"\n";

    private static ForwardConfig forward(String toml) throws ConfigException {
        ConfigReader r = ConfigReader.parse("test.conf", toml);
        ForwardConfig c = ForwardConfig.from(r);
        r.finish();
        return c;
    }

    private static void refused(String toml, String key, String says) {
        ConfigException e = assertThrows(ConfigException.class, () -> forward(toml));
        assertTrue(e.getMessage().contains(key) && e.getMessage().contains(says), e.getMessage());
    }

    @Test
    void loginsAreReadInOrderWithSendersInLowerCase() throws Exception {
        UpstreamConfig u = forward(UPSTREAM + "auth_file = \"/s/default\"\nfrom_rewrite = \"Alerts <a@x.example>\"\n"
                + "[[upstream.login]]\nsenders = [\"Alice@A.example\", \"@B.example\"]\nauth_file = \"/s/a\"\n"
                + "[[upstream.login]]\nsenders = [\"c.example\"]\nauth_file = \"/s/c\"\nfrom_rewrite = \"c@c.example\"\n")
                .upstreams().get(0);
        assertEquals(List.of(new SenderLogin(List.of("alice@a.example", "b.example"), Path.of("/s/a"), ""),
                new SenderLogin(List.of("c.example"), Path.of("/s/c"), "c@c.example")), u.logins());
        assertEquals("Alerts <a@x.example>", u.fromRewrite());
        assertEquals(Path.of("/s/c"), u.withAuthFile(Path.of("/s/c")).authFile());
    }

    @Test
    void refusals() {
        refused(UPSTREAM + "[[upstream.login]]\nsenders = [\"a@x.example\"]\nauth_file = \"/s/a\"\n"
                + "[[upstream.login]]\nsenders = [\"A@x.example\"]\nauth_file = \"/s/b\"\n", "login[1].senders",
                "named by two");
        refused(UPSTREAM + "[[upstream.login]]\nsenders = [\"a@x.example\"]\n", "login[0].auth_file", "needs its secrets");
        refused(UPSTREAM + "[[upstream.login]]\nauth_file = \"/s/a\"\n", "senders", "needs the senders");
        refused(UPSTREAM + "[[upstream.login]]\nsenders = [\"<a@x.example>\"]\nauth_file = \"/s/a\"\n", "senders",
                "expected addresses");
        refused(UPSTREAM + "[[upstream.login]]\nsenders = [\"a@\"]\nauth_file = \"/s/a\"\n", "senders",
                "expected addresses");
        refused(UPSTREAM + "[[upstream.login]]\nsenders = [\"x.example\"]\nauth_file = \"/s/a\"\nusername = \"u\"\n",
                "login[0].username", "unknown key");
        refused("[[upstream]]\ntype = \"outbox\"\n[[upstream.login]]\nsenders = [\"x.example\"]\nauth_file = \"/s/a\"\n",
                "login", "smtp upstream");
        refused("[[upstream]]\nhost = \"smtp.example\"\ntls = \"none\"\n"
                + "[[upstream.login]]\nsenders = [\"x.example\"]\nauth_file = \"/s/a\"\n", "auth_file", "without TLS");
        refused(UPSTREAM + "from_rewrite = \"nobody\"\n", "from_rewrite", "verified address");
        refused(UPSTREAM + "from_rewrite = \"A <>\"\n", "from_rewrite", "verified address");
    }

    @Test
    void xoauth2WithOnlyLoginsNeedsNoDefaultAuthFile() throws Exception {
        UpstreamConfig u = forward("[[upstream]]\nhost = \"smtp.office365.com\"\noauth_provider = \"microsoft\"\n"
                + "oauth_client_id = \"abc\"\n[[upstream.login]]\nsenders = [\"a@corp.example\"]\nauth_file = \"/s/a\"\n")
                .upstreams().get(0);
        assertEquals(null, u.authFile());
        assertEquals(1, u.logins().size());
    }

    @Test
    void configShowWritesLoginTablesThatReadBackTheSame() throws Exception {
        String toml = UPSTREAM + "auth_file = \"/s/default\"\n"
                + "[[upstream.login]]\nsenders = [\"b.example\"]\nauth_file = \"/s/b\"\n"
                + "[[upstream]]\nname = \"second\"\nhost = \"smtp2.example\"\n";
        ConfigReader r = ConfigReader.parse("test.conf", toml);
        ForwardConfig c = ForwardConfig.from(r);
        String shown = r.render();
        assertTrue(shown.contains("[[upstream.login]]\nsenders = [\"b.example\"]"), shown);
        ForwardConfig back = forward(shown);
        assertEquals(c.upstreams().get(0).logins(), back.upstreams().get(0).logins());
        assertEquals(List.of(), back.upstreams().get(1).logins(), "the login stays with its own upstream");
    }
}
