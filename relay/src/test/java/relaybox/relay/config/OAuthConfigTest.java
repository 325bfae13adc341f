package relaybox.relay.config;

import org.junit.jupiter.api.Test;
import relaybox.relay.config.UpstreamConfig.AuthChoice;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The oauth_* and auth_mechanism keys: the providers' built-in defaults and every refusal. */
class OAuthConfigTest {

    private static UpstreamConfig upstream(String keys) throws ConfigException {
        ConfigReader r = ConfigReader.parse("test.conf", "[[upstream]]\nhost = \"smtp.office365.com\"\n"
                + "auth_file = \"/var/lib/relaybox/ms365.secret\"\n" + keys);
        ForwardConfig c = ForwardConfig.from(r);
        r.finish();
        return c.upstreams().get(0);
    }

    private static void refused(String keys, String key, String says) {
        ConfigException e = assertThrows(ConfigException.class, () -> upstream(keys));
        assertTrue(e.getMessage().contains(key) && e.getMessage().contains(says), e.getMessage());
    }

    @Test
    void microsoftDelegatedDefaults() throws Exception {
        UpstreamConfig u = upstream("oauth_provider = \"microsoft\"\noauth_client_id = \"abc\"\n");
        OAuthConfig o = u.oauth();
        assertEquals(OAuthConfig.Grant.REFRESH_TOKEN, o.grant());
        assertEquals("https://login.microsoftonline.com/common/oauth2/v2.0/token", o.tokenEndpoint());
        assertEquals("https://outlook.office.com/SMTP.Send offline_access", o.scope());
        assertEquals(AuthChoice.AUTO, u.authMechanism());
    }

    @Test
    void microsoftAppOnlyNeedsTheTenant() throws Exception {
        refused("oauth_provider = \"microsoft\"\noauth_client_id = \"abc\"\noauth_grant = \"client_credentials\"\n",
                "oauth_tenant", "needs your tenant");
        OAuthConfig o = upstream("oauth_provider = \"microsoft\"\noauth_client_id = \"abc\"\n"
                + "oauth_grant = \"client_credentials\"\noauth_tenant = \"contoso.onmicrosoft.com\"\n").oauth();
        assertEquals("https://login.microsoftonline.com/contoso.onmicrosoft.com/oauth2/v2.0/token", o.tokenEndpoint());
        assertEquals("https://outlook.office365.com/.default", o.scope());
    }

    @Test
    void googleDefaultsAndNoClientCredentials() throws Exception {
        OAuthConfig o = upstream("oauth_provider = \"google\"\noauth_client_id = \"x.apps.googleusercontent.com\"\n").oauth();
        assertEquals("https://oauth2.googleapis.com/token", o.tokenEndpoint());
        assertEquals("https://mail.google.com/", o.scope());
        refused("oauth_provider = \"google\"\noauth_client_id = \"x\"\noauth_grant = \"client_credentials\"\n",
                "oauth_grant", "Google has no client_credentials");
    }

    @Test
    void everyValueOverridable() throws Exception {
        OAuthConfig o = upstream("oauth_provider = \"microsoft\"\noauth_client_id = \"abc\"\n"
                + "oauth_token_endpoint = \"https://login.example/token\"\noauth_scope = \"s1 s2\"\n").oauth();
        assertEquals("https://login.example/token", o.tokenEndpoint());
        assertEquals("s1 s2", o.scope());
    }

    @Test
    void signInEndpointsHaveTheProvidersDefaultsAndAreOverridable() throws Exception {
        OAuthConfig ms = upstream("oauth_provider = \"microsoft\"\noauth_client_id = \"abc\"\n"
                + "oauth_tenant = \"contoso.example\"\n").oauth();
        assertEquals("https://login.microsoftonline.com/contoso.example/oauth2/v2.0/devicecode", ms.deviceEndpoint());
        assertEquals("https://login.microsoftonline.com/contoso.example/oauth2/v2.0/authorize", ms.authorizeEndpoint());
        OAuthConfig g = upstream("oauth_provider = \"google\"\noauth_client_id = \"x\"\n").oauth();
        assertEquals("https://oauth2.googleapis.com/device/code", g.deviceEndpoint());
        assertEquals("https://accounts.google.com/o/oauth2/v2/auth", g.authorizeEndpoint());
        OAuthConfig c = upstream("oauth_provider = \"custom\"\noauth_client_id = \"c\"\n"
                + "oauth_token_endpoint = \"http://127.0.0.1:8080/t\"\noauth_scope = \"s\"\n"
                + "oauth_device_endpoint = \"http://127.0.0.1:8080/d\"\n").oauth();
        assertEquals("http://127.0.0.1:8080/d", c.deviceEndpoint());
        assertEquals("", c.authorizeEndpoint());
        refused("oauth_provider = \"microsoft\"\noauth_client_id = \"abc\"\n"
                + "oauth_device_endpoint = \"http://login.example/devicecode\"\n", "oauth_device_endpoint", "https");
    }

    @Test
    void refusals() {
        refused("oauth_provider = \"microsoft\"\n", "oauth_client_id", "client) id");
        refused("oauth_provider = \"custom\"\noauth_client_id = \"abc\"\n", "oauth_token_endpoint", "custom");
        // Secrets never cross a network in clear: http only to loopback.
        refused("oauth_provider = \"microsoft\"\noauth_client_id = \"abc\"\n"
                + "oauth_token_endpoint = \"http://login.example/token\"\n", "oauth_token_endpoint", "https");
        refused("oauth_provider = \"microsoft\"\noauth_client_id = \"abc\"\nauth_mechanism = \"login\"\n",
                "auth_mechanism", "xoauth2");
        refused("auth_mechanism = \"xoauth2\"\n", "auth_mechanism", "oauth_provider");
        refused("oauth_provider = \"yahoo\"\n", "oauth_provider", "microsoft");
        refused("oauth_provider = \"microsoft\"\noauth_client_id = \"abc\"\noauth_tenant = \"a/b\"\n",
                "oauth_tenant", "tenant");
    }

    @Test
    void noOauthNoMechanismNamed() throws Exception {
        UpstreamConfig u = upstream("");
        assertNull(u.oauth());
        assertEquals(AuthChoice.AUTO, u.authMechanism());
        assertEquals(AuthChoice.LOGIN, upstream("auth_mechanism = \"login\"\n").authMechanism());
        assertEquals(OAuthConfig.Grant.REFRESH_TOKEN, upstream("oauth_provider = \"custom\"\noauth_client_id = \"c\"\n"
                + "oauth_token_endpoint = \"http://127.0.0.1:8080/t\"\noauth_scope = \"s\"\n").oauth().grant());
    }
}
