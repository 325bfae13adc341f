package relaybox.relay.forward;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/**
 * Owns reading an upstream's AUTH secrets from its secrets file ({@code auth_file}). The file
 * holds {@code key=value} lines; everything after the first "=" is the value. Keys:
 * {@code username} (the login, or for XOAUTH2 the mailbox sent as) and at least one secret:
 * {@code password} (PLAIN, LOGIN), {@code refresh_token} and/or {@code client_secret} (XOAUTH2,
 * see {@link TokenSource}). Secrets are kept exactly as written (they may contain "=", ":" or
 * spaces); the user name is trimmed. Blank lines and lines starting with "#" are ignored. The
 * file must not be readable or writable by others (mode 600 or 640 for the service group): a
 * readable secret is refused at start rather than used. The values are never logged;
 * {@link #toString()} hides them.
 */
public final class Credentials {

    private final String username;
    private final String password;
    private final String refreshToken;
    private final String clientSecret;

    Credentials(String username, String password) {
        this(username, password, null, null);
    }

    Credentials(String username, String password, String refreshToken, String clientSecret) {
        this.username = username;
        this.password = password;
        this.refreshToken = refreshToken;
        this.clientSecret = clientSecret;
    }

    public String username() {
        return username;
    }

    /** The password, or null when the file has none. */
    String password() {
        return password;
    }

    /** The OAuth refresh token, or null. */
    String refreshToken() {
        return refreshToken;
    }

    /** The OAuth client secret, or null. */
    String clientSecret() {
        return clientSecret;
    }

    /** These credentials with a rotated refresh token. */
    Credentials withRefreshToken(String token) {
        return new Credentials(username, password, token, clientSecret);
    }

    public static Credentials read(Path file) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(file, PosixFileAttributeView.class);
        if (view != null) {
            Set<PosixFilePermission> p = view.readAttributes().permissions();
            if (p.contains(PosixFilePermission.OTHERS_READ) || p.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new IOException(file + ": auth_file must not be readable by others (chmod 600)");
            }
        }
        String user = null;
        String pass = null;
        String refresh = null;
        String secret = null;
        String expected = file + ": expected username= and password= lines"
                + " (or, for XOAUTH2, username= and refresh_token= or client_secret=)";
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank() || line.stripLeading().startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            String key = eq < 0 ? "" : line.substring(0, eq).strip();
            String value = eq < 0 ? "" : line.substring(eq + 1);
            switch (key) {
                case "username" -> user = value.strip();
                case "password" -> pass = value;
                case "refresh_token" -> refresh = value.strip();
                case "client_secret" -> secret = value.strip();
                default -> throw new IOException(expected);
            }
        }
        if (user == null || user.isEmpty() || (pass == null && refresh == null && secret == null)) {
            throw new IOException(expected);
        }
        return new Credentials(user, pass, refresh, secret);
    }

    /**
     * Reads {@code upstream}'s auth_file and checks it holds what its AUTH needs: a password
     * without oauth_provider; a refresh_token for the refresh-token grant; a client_secret for
     * the client-credentials grant.
     */
    public static Credentials readFor(relaybox.relay.config.UpstreamConfig upstream) throws IOException {
        Path file = upstream.authFile();
        Credentials c = read(file);
        var oauth = upstream.oauth();
        if (oauth == null && c.password() == null) {
            throw new IOException(file + ": expected a password= line (no oauth_provider is set)");
        }
        if (oauth != null && oauth.grant() == relaybox.relay.config.OAuthConfig.Grant.REFRESH_TOKEN
                && c.refreshToken() == null) {
            throw new IOException(file + ": expected a refresh_token= line (oauth_grant = \"refresh_token\";"
                    + " see the README, \"Microsoft 365 and Gmail over XOAUTH2\")");
        }
        if (oauth != null && oauth.grant() == relaybox.relay.config.OAuthConfig.Grant.CLIENT_CREDENTIALS
                && c.clientSecret() == null) {
            throw new IOException(file + ": expected a client_secret= line (oauth_grant = \"client_credentials\")");
        }
        return c;
    }

    @Override
    public String toString() {
        return "Credentials[username=" + username + ", secrets=(hidden)]";
    }
}
