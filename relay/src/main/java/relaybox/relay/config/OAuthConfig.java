package relaybox.relay.config;

import java.util.Locale;

/**
 * Owns an upstream's OAuth 2.0 settings for XOAUTH2 (the {@code oauth_*} keys) and the built-in
 * defaults for the providers that need it: where tokens come from, for which client and scope.
 * The secrets themselves (refresh token, client secret) live in the upstream's {@code auth_file},
 * never here, so {@code config show} can print this record whole.
 *
 * @param provider      oauth_provider: "microsoft", "google" or "custom"
 * @param grant         oauth_grant: how access tokens are obtained
 * @param tokenEndpoint oauth_token_endpoint: the provider's token URL (https; http only to loopback)
 * @param clientId      oauth_client_id: the application (client) id of the app registration
 * @param scope         oauth_scope: the scope asked for
 * @param deviceEndpoint    oauth_device_endpoint: the device authorization URL (RFC 8628) that
 *                          {@code relaybox upstream login} starts from, or "" when the provider has none
 * @param authorizeEndpoint oauth_authorize_endpoint: the authorization URL of the browser sign-in
 *                          (authorization code with PKCE) that {@code relaybox upstream login} offers
 *                          where the device flow cannot have the scope (Google), or ""
 */
public record OAuthConfig(String provider, Grant grant, String tokenEndpoint, String clientId, String scope,
                          String deviceEndpoint, String authorizeEndpoint) {

    /** Without the sign-in endpoints (the daemon needs only the token endpoint). */
    public OAuthConfig(String provider, Grant grant, String tokenEndpoint, String clientId, String scope) {
        this(provider, grant, tokenEndpoint, clientId, scope, "", "");
    }

    /** The OAuth grant used to get access tokens. */
    public enum Grant {
        /** Delegated: a refresh token (from the auth_file) is exchanged for access tokens. */
        REFRESH_TOKEN("refresh_token"),
        /** App-only (Microsoft): the client secret (from the auth_file) is exchanged for access tokens. */
        CLIENT_CREDENTIALS("client_credentials");

        private final String word;

        Grant(String word) {
            this.word = word;
        }

        /** The config word, also the OAuth grant_type value. */
        public String word() {
            return word;
        }
    }

    public static final String MICROSOFT_ENDPOINT = "https://login.microsoftonline.com/%s/oauth2/v2.0/token";
    public static final String MICROSOFT_DEVICE_ENDPOINT = "https://login.microsoftonline.com/%s/oauth2/v2.0/devicecode";
    public static final String MICROSOFT_AUTHORIZE_ENDPOINT = "https://login.microsoftonline.com/%s/oauth2/v2.0/authorize";
    public static final String MICROSOFT_DELEGATED_SCOPE = "https://outlook.office.com/SMTP.Send offline_access";
    public static final String MICROSOFT_APP_SCOPE = "https://outlook.office365.com/.default";
    public static final String GOOGLE_ENDPOINT = "https://oauth2.googleapis.com/token";
    public static final String GOOGLE_SCOPE = "https://mail.google.com/";
    public static final String GOOGLE_DEVICE_ENDPOINT = "https://oauth2.googleapis.com/device/code";
    public static final String GOOGLE_AUTHORIZE_ENDPOINT = "https://accounts.google.com/o/oauth2/v2/auth";
    public static final String DEFAULT_TENANT = "common";

    /** Reads the oauth_* keys of one [[upstream]] table; null when oauth_provider is not set. */
    static OAuthConfig from(ConfigReader r) throws ConfigException {
        String provider = r.choice("oauth_provider", "", "", "microsoft", "google", "custom");
        String grantWord = r.choice("oauth_grant", Grant.REFRESH_TOKEN.word(), "refresh_token", "client_credentials");
        String tenant = r.string("oauth_tenant", DEFAULT_TENANT);
        String endpoint = r.string("oauth_token_endpoint", "");
        String clientId = r.string("oauth_client_id", "");
        String scope = r.string("oauth_scope", "");
        String device = r.string("oauth_device_endpoint", "");
        String authorize = r.string("oauth_authorize_endpoint", "");
        if (provider.isEmpty()) {
            return null;
        }
        Grant grant = Grant.valueOf(grantWord.toUpperCase(Locale.ROOT));
        if (tenant.isBlank() || !tenant.matches("[A-Za-z0-9.\\-]+")) {
            throw r.error("oauth_tenant", "expected a tenant id or domain, or \"common\"", tenant);
        }
        switch (provider) {
            case "microsoft" -> {
                if (endpoint.isEmpty()) {
                    if (grant == Grant.CLIENT_CREDENTIALS && tenant.equals(DEFAULT_TENANT)) {
                        throw r.error("oauth_tenant", "the client_credentials grant needs your tenant id or domain,"
                                + " not \"common\"", tenant);
                    }
                    endpoint = String.format(MICROSOFT_ENDPOINT, tenant);
                }
                if (scope.isEmpty()) {
                    scope = grant == Grant.CLIENT_CREDENTIALS ? MICROSOFT_APP_SCOPE : MICROSOFT_DELEGATED_SCOPE;
                }
                device = device.isEmpty() ? String.format(MICROSOFT_DEVICE_ENDPOINT, tenant) : device;
                authorize = authorize.isEmpty() ? String.format(MICROSOFT_AUTHORIZE_ENDPOINT, tenant) : authorize;
            }
            case "google" -> {
                if (grant == Grant.CLIENT_CREDENTIALS) {
                    throw r.error("oauth_grant", "Google has no client_credentials grant for SMTP;"
                            + " use refresh_token", grantWord);
                }
                endpoint = endpoint.isEmpty() ? GOOGLE_ENDPOINT : endpoint;
                scope = scope.isEmpty() ? GOOGLE_SCOPE : scope;
                device = device.isEmpty() ? GOOGLE_DEVICE_ENDPOINT : device;
                authorize = authorize.isEmpty() ? GOOGLE_AUTHORIZE_ENDPOINT : authorize;
            }
            default -> {
                if (endpoint.isEmpty() || scope.isEmpty()) {
                    throw r.error(endpoint.isEmpty() ? "oauth_token_endpoint" : "oauth_scope",
                            "oauth_provider = \"custom\" needs oauth_token_endpoint and oauth_scope", "");
                }
            }
        }
        checkUrl(r, "oauth_token_endpoint", endpoint);
        if (!device.isEmpty()) {
            checkUrl(r, "oauth_device_endpoint", device);
        }
        if (!authorize.isEmpty()) {
            checkUrl(r, "oauth_authorize_endpoint", authorize);
        }
        if (clientId.isBlank()) {
            throw r.error("oauth_client_id", "XOAUTH2 needs the application (client) id of your app registration",
                    clientId);
        }
        return new OAuthConfig(provider, grant, endpoint, clientId, scope, device, authorize);
    }

    private static void checkUrl(ConfigReader r, String key, String url) throws ConfigException {
        java.net.URI uri;
        try {
            uri = java.net.URI.create(url);
        } catch (IllegalArgumentException e) {
            throw r.error(key, "expected an https:// URL", url);
        }
        boolean https = "https".equalsIgnoreCase(uri.getScheme());
        boolean localHttp = "http".equalsIgnoreCase(uri.getScheme()) && uri.getHost() != null
                && UpstreamConfig.isLoopback(uri.getHost());
        if (uri.getHost() == null || !(https || localHttp)) {
            // A client secret, refresh token or device code is never sent in clear over a network.
            throw r.error(key, "expected an https:// URL (http:// only to a loopback host)", url);
        }
    }
}
