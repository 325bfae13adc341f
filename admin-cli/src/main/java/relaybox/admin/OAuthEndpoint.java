package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Owns the HTTP exchanges of {@code relaybox upstream login} with the provider's OAuth endpoints:
 * one form POST, its JSON reply, and the provider's error in its own words ({@code error},
 * {@code error_description}: where Microsoft puts {@code AADSTS} codes). It never puts a request
 * body or a token in a message.
 */
final class OAuthEndpoint {

    private static final ObjectMapper JSON = new ObjectMapper();
    private static final int MAX_ERROR_TEXT = 400;

    /** A reply: the HTTP status and the JSON object (an empty one when the body was not JSON). */
    record Reply(int status, JsonNode json) {
        boolean ok() {
            return status == 200;
        }

        /** The OAuth error code ("authorization_pending", "invalid_grant"), or "". */
        String error() {
            return json.path("error").asText("");
        }

        /** "HTTP 400, invalid_grant: AADSTS700082: ..." on one line, bounded. */
        String describe() {
            String text = "HTTP " + status;
            if (json.path("error").isTextual()) {
                text += ", " + json.get("error").asText();
                if (json.path("error_description").isTextual()) {
                    text += ": " + json.get("error_description").asText();
                }
            }
            text = text.replaceAll("[\\r\\n\\t]+", " ").replaceAll("\\p{Cntrl}", "");
            return text.length() > MAX_ERROR_TEXT ? text.substring(0, MAX_ERROR_TEXT) + "..." : text;
        }
    }

    private final HttpClient http;
    private final Duration timeout;

    OAuthEndpoint(Duration timeout) {
        this.timeout = timeout;
        this.http = HttpClient.newBuilder().connectTimeout(timeout).followRedirects(HttpClient.Redirect.NEVER).build();
    }

    /** POSTs {@code form} (application/x-www-form-urlencoded) to {@code url}. */
    Reply post(String url, Map<String, String> form) throws IOException {
        String body = form.entrySet().stream()
                .map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        URI uri = URI.create(url);
        HttpResponse<String> res;
        try {
            res = http.send(HttpRequest.newBuilder(uri).timeout(timeout)
                    .header("Content-Type", "application/x-www-form-urlencoded")
                    .header("Accept", "application/json")
                    .POST(HttpRequest.BodyPublishers.ofString(body)).build(), HttpResponse.BodyHandlers.ofString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(uri.getHost() + ": interrupted");
        } catch (IOException e) {
            // The JDK's messages name the host at most, never the body.
            throw new IOException(uri.getHost() + ": " + (e.getMessage() != null ? e.getMessage()
                    : e.getClass().getSimpleName()), e);
        }
        return new Reply(res.statusCode(), parse(res.body()));
    }

    private static JsonNode parse(String body) {
        try {
            JsonNode n = body == null || body.isBlank() ? null : JSON.readTree(body);
            return n != null && n.isObject() ? n : JSON.createObjectNode();
        } catch (IOException e) {
            return JSON.createObjectNode();
        }
    }
}
