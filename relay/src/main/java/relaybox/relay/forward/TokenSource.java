package relaybox.relay.forward;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.relay.config.OAuthConfig;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Objects;
import java.util.stream.Collectors;

/**
 * Owns one upstream's OAuth 2.0 access token for XOAUTH2: it gets one from the provider's token
 * endpoint (refresh-token or client-credentials grant, RFC 6749 4.4 and 6), keeps it in memory
 * until shortly before it expires, and shares it among all sessions to the upstream. A rotated
 * refresh token in the reply is written back to the auth_file at once ({@link SecretsFileWriter}),
 * so a restart does not lose it. The auth_file is read again when it changes (an operator placed
 * a new refresh token).
 *
 * <p>Failures: a refusal by the endpoint (HTTP 4xx: {@code invalid_grant}, {@code AADSTS700082}
 * for a refresh token idle for 90 days) is a configuration failure, with the provider's error
 * text; an unreachable endpoint or an HTTP 5xx is a link failure. Either way the session is not
 * opened and mail waits. No token, secret or request body is ever logged or put in an error.
 * Thread safe: one fetch at a time.
 */
final class TokenSource {

    private static final Logger LOG = LoggerFactory.getLogger(TokenSource.class);
    private static final ObjectMapper JSON = new ObjectMapper();
    /** Used when the reply has no expires_in (RFC 6749 makes it optional); providers send 3599. */
    private static final Duration DEFAULT_LIFETIME = Duration.ofHours(1);
    /** At most this long before expiry the token is replaced; half its lifetime when that is less. */
    static final Duration MAX_MARGIN = Duration.ofMinutes(5);
    private static final int MAX_ERROR_TEXT = 300;

    /** An access token and the mailbox it authenticates. */
    record Token(String user, String value) {
        @Override
        public String toString() {
            return "Token[user=" + user + ", value=(hidden)]";
        }
    }

    private final String upstream;
    private final relaybox.relay.config.UpstreamConfig source;
    private final OAuthConfig config;
    private final Path secretsFile;
    private final Clock clock;
    private final HttpClient http;
    private final Duration timeout;
    private Credentials credentials;
    private Object credentialsStamp;
    private String accessToken;
    private Instant refreshAt = Instant.MIN;
    private boolean saveFailedLogged;

    TokenSource(relaybox.relay.config.UpstreamConfig upstream, Duration timeout, Clock clock) throws IOException {
        this.upstream = upstream.name();
        this.config = upstream.oauth();
        this.secretsFile = upstream.authFile();
        this.source = upstream;
        this.clock = clock;
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER).build();
        this.credentialsStamp = SmtpConnector.stamp(secretsFile);
        this.credentials = Credentials.readFor(upstream);
    }

    /** The mailbox the tokens authenticate (the auth_file's username). */
    synchronized String user() {
        return credentials.username();
    }

    /** A valid access token: the cached one, or a new one from the token endpoint. */
    synchronized Token accessToken() throws AuthMechanism.Unavailable {
        reloadIfChanged();
        if (accessToken != null && clock.instant().isBefore(refreshAt)) {
            return new Token(credentials.username(), accessToken);
        }
        fetch();
        return new Token(credentials.username(), accessToken);
    }

    /** Drops the cached access token (the upstream refused it): the next session fetches a new one. */
    synchronized void invalidate() {
        accessToken = null;
    }

    private void reloadIfChanged() throws AuthMechanism.Unavailable {
        Object now = SmtpConnector.stamp(secretsFile);
        if (Objects.equals(now, credentialsStamp)) {
            return;
        }
        try {
            credentials = Credentials.readFor(source);
            credentialsStamp = now;
            accessToken = null; // new secrets: a token from the old ones may be the revoked one
        } catch (IOException e) {
            throw new AuthMechanism.Unavailable("auth_file cannot be used: " + e.getMessage(), true);
        }
    }

    private void fetch() throws AuthMechanism.Unavailable {
        Map<String, String> form = new LinkedHashMap<>();
        form.put("grant_type", config.grant().word());
        form.put("client_id", config.clientId());
        if (credentials.clientSecret() != null) {
            form.put("client_secret", credentials.clientSecret());
        }
        if (config.grant() == OAuthConfig.Grant.REFRESH_TOKEN) {
            form.put("refresh_token", credentials.refreshToken());
        }
        form.put("scope", config.scope());
        String body = form.entrySet().stream()
                .map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        URI uri = URI.create(config.tokenEndpoint());
        String where = "token endpoint " + uri.getHost();
        HttpResponse<String> res;
        Instant asked = clock.instant();
        try {
            res = http.send(HttpRequest.newBuilder(uri).timeout(timeout)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new AuthMechanism.Unavailable(where + ": " + FailurePolicy.describe(e), false);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AuthMechanism.Unavailable(where + ": interrupted", false);
        }
        JsonNode reply = parse(res.body());
        if (res.statusCode() != 200 || reply == null || !reply.path("access_token").isTextual()) {
            String why = errorText(res.statusCode(), reply);
            // 4xx: the provider refused the grant (revoked, expired, wrong client): only an
            // operator can fix it. 5xx, 429 and garbage: the provider's trouble, try again.
            boolean operator = res.statusCode() >= 400 && res.statusCode() < 500 && res.statusCode() != 429;
            throw new AuthMechanism.Unavailable(where + " refused the " + config.grant().word() + " grant: " + why,
                    operator);
        }
        accessToken = reply.get("access_token").asText();
        long life = reply.path("expires_in").canConvertToLong() ? reply.path("expires_in").asLong()
                : reply.path("expires_in").isTextual() && reply.path("expires_in").asText().matches("\\d{1,9}")
                ? Long.parseLong(reply.path("expires_in").asText()) : DEFAULT_LIFETIME.toSeconds();
        Duration lifetime = Duration.ofSeconds(Math.max(0, life));
        Duration margin = lifetime.dividedBy(2).compareTo(MAX_MARGIN) < 0 ? lifetime.dividedBy(2) : MAX_MARGIN;
        refreshAt = asked.plus(lifetime).minus(margin);
        String rotated = reply.path("refresh_token").isTextual() ? reply.get("refresh_token").asText() : null;
        if (rotated != null && !rotated.isEmpty() && !rotated.equals(credentials.refreshToken())) {
            credentials = credentials.withRefreshToken(rotated);
            save(rotated);
        }
        LOG.debug("upstream {}: new access token, valid for {}s", upstream, life);
    }

    /** Writes a rotated refresh token back; on failure it stays in memory (lost at restart), said once. */
    private void save(String refreshToken) {
        try {
            SecretsFileWriter.replace(secretsFile, "refresh_token", refreshToken);
            credentialsStamp = SmtpConnector.stamp(secretsFile);
            saveFailedLogged = false;
        } catch (IOException e) {
            if (!saveFailedLogged) {
                saveFailedLogged = true;
                LOG.warn("upstream {}: the provider rotated the refresh token, but it could not be saved to {}: {};"
                        + " it is used from memory and lost at restart (the auth_file and its directory must be"
                        + " writable by the service user)", upstream, secretsFile, e.getMessage());
            }
        }
    }

    private static JsonNode parse(String body) {
        try {
            return body == null || body.isBlank() ? null : JSON.readTree(body);
        } catch (IOException e) {
            return null;
        }
    }

    /** The provider's own words (error, error_description), one line, bounded; never the body whole. */
    static String errorText(int status, JsonNode reply) {
        String text = "HTTP " + status;
        if (reply != null && reply.path("error").isTextual()) {
            text += ", " + reply.get("error").asText();
            if (reply.path("error_description").isTextual()) {
                text += ": " + reply.get("error_description").asText();
            }
        } else if (status == 200) {
            text += ", no access_token in the reply";
        }
        text = text.replaceAll("[\\r\\n\\t]+", " ").replaceAll("\\p{Cntrl}", "");
        return text.length() > MAX_ERROR_TEXT ? text.substring(0, MAX_ERROR_TEXT) + "..." : text;
    }
}
