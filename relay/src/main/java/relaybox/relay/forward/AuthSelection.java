package relaybox.relay.forward;

import relaybox.relay.config.UpstreamConfig;
import relaybox.relay.config.UpstreamConfig.AuthChoice;

import java.io.IOException;
import java.util.Objects;
import java.util.Set;
import java.util.function.Supplier;

/**
 * Owns which AUTH mechanism a session to one upstream uses, and the secrets it uses: it reads the
 * upstream's {@code auth_file} (again when it changed: an operator fixed it) and keeps the
 * upstream's {@link TokenSource}, shared by all its sessions.
 *
 * <p>The choice: a configured {@code auth_mechanism} is used when the upstream offers it and
 * refused otherwise, never replaced by another; XOAUTH2 when {@code oauth_provider} is set (never
 * a fallback to a password); else PLAIN when offered, then LOGIN. Thread safe.
 */
final class AuthSelection {

    /** No mechanism may be used: the configuration and the upstream's offer do not meet. */
    static final class Refused extends Exception {
        Refused(String message) {
            super(message);
        }
    }

    private final UpstreamConfig upstream;
    private final Supplier<Object> stampNow;
    private final TokenSource tokens;
    private Credentials credentials;
    private Object credentialsStamp;

    AuthSelection(UpstreamConfig upstream, TokenSource tokens, Supplier<Object> stampNow) throws IOException {
        this.upstream = upstream;
        this.tokens = tokens;
        this.stampNow = stampNow;
        this.credentialsStamp = stampNow.get();
        this.credentials = upstream.authFile() == null ? null : Credentials.readFor(upstream);
    }

    /** The credentials, read again if the auth_file changed since they were read. */
    synchronized Credentials credentials() throws IOException {
        Object now = stampNow.get();
        if (upstream.authFile() != null && !Objects.equals(now, credentialsStamp)) {
            credentials = Credentials.readFor(upstream);
            credentialsStamp = now;
        }
        return credentials;
    }

    /** The mechanism for a session whose upstream offers {@code offered} (upper case). */
    AuthMechanism choose(Set<String> offered) throws Refused {
        AuthChoice want = upstream.authMechanism();
        String offer = offered.isEmpty() ? "no AUTH at all" : "only AUTH " + String.join(" ", offered);
        if (tokens != null) {
            if (!offered.contains("XOAUTH2")) {
                throw new Refused("XOAUTH2 is configured but the upstream offers " + offer
                        + "; relaybox does not fall back to another mechanism");
            }
            return new XOAuth2Auth(tokens);
        }
        Credentials c;
        try {
            c = credentials();
        } catch (IOException e) {
            throw new Refused("auth_file cannot be used: " + e.getMessage());
        }
        if (c.password() == null) {
            throw new Refused("auth_file has no password= line");
        }
        switch (want) {
            case PLAIN, LOGIN -> {
                if (!offered.contains(want.name())) {
                    throw new Refused("auth_mechanism " + want.name() + " is configured but the upstream offers "
                            + offer + "; relaybox does not fall back to another mechanism");
                }
                return want == AuthChoice.PLAIN ? new PlainAuth(c) : new LoginAuth(c);
            }
            default -> {
                if (offered.contains("PLAIN")) {
                    return new PlainAuth(c);
                }
                if (offered.contains("LOGIN")) {
                    return new LoginAuth(c);
                }
                throw new Refused("credentials configured but the upstream offers neither AUTH PLAIN nor AUTH LOGIN");
            }
        }
    }

    /** The token source, or null without oauth_provider. */
    TokenSource tokens() {
        return tokens;
    }
}
