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
 */
public record OAuthConfig(String provider, Grant grant, String tokenEndpoint, String clientId, String scope) {

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
    public static final String MICROSOFT_DELEGATED_SCOPE = "https://outlook.office.com/SMTP.Send offline_access";
    public static final String MICROSOFT_APP_SCOPE = "https://outlook.office365.com/.default";
    public static final String GOOGLE_ENDPOINT = "https://oauth2.googleapis.com/token";
    public static final String GOOGLE_SCOPE = "https://mail.google.com/";
    public static final String DEFAULT_TENANT = "common";

    /** Reads the oauth_* keys of one [[upstream]] table; null when oauth_provider is not set. */
    static OAuthConfig from(ConfigReader r) throws ConfigException {
        String provider = r.choice("oauth_provider", "", "", "microsoft", "google", "custom");
        String grantWord = r.choice("oauth_grant", Grant.REFRESH_TOKEN.word(), "refresh_token", "client_credentials");
        String tenant = r.string("oauth_tenant", DEFAULT_TENANT);
        String endpoint = r.string("oauth_token_endpoint", "");
        String clientId = r.string("oauth_client_id", "");
        String scope = r.string("oauth_scope", "");
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
            }
            case "google" -> {
                if (grant == Grant.CLIENT_CREDENTIALS) {
                    throw r.error("oauth_grant", "Google has no client_credentials grant for SMTP;"
                            + " use refresh_token", grantWord);
                }
                endpoint = endpoint.isEmpty() ? GOOGLE_ENDPOINT : endpoint;
                scope = scope.isEmpty() ? GOOGLE_SCOPE : scope;
            }
            default -> {
                if (endpoint.isEmpty() || scope.isEmpty()) {
                    throw r.error(endpoint.isEmpty() ? "oauth_token_endpoint" : "oauth_scope",
                            "oauth_provider = \"custom\" needs oauth_token_endpoint and oauth_scope", "");
                }
            }
        }
        java.net.URI uri;
        try {
            uri = java.net.URI.create(endpoint);
        } catch (IllegalArgumentException e) {
            throw r.error("oauth_token_endpoint", "expected an https:// URL", endpoint);
        }
        boolean https = "https".equalsIgnoreCase(uri.getScheme());
        boolean localHttp = "http".equalsIgnoreCase(uri.getScheme()) && uri.getHost() != null
                && UpstreamConfig.isLoopback(uri.getHost());
        if (uri.getHost() == null || !(https || localHttp)) {
            // A client secret or refresh token is never sent in clear over a network.
            throw r.error("oauth_token_endpoint", "expected an https:// URL (http:// only to a loopback host)",
                    endpoint);
        }
        if (clientId.isBlank()) {
            throw r.error("oauth_client_id", "XOAUTH2 needs the application (client) id of your app registration",
                    clientId);
        }
        return new OAuthConfig(provider, grant, endpoint, clientId, scope);
    }
}
