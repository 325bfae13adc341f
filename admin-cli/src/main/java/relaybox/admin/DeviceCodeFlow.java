package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.PrintStream;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.Map;

/**
 * Owns the OAuth 2.0 device authorization grant (RFC 8628) that gives an upstream its first
 * refresh token: asks the device endpoint for a user code, tells the operator where to enter it,
 * then polls the token endpoint as section 3.5 says: waits {@code interval} seconds (5 when the
 * provider names none) between polls, 5 seconds more for good after each {@code slow_down}, keeps
 * going on {@code authorization_pending}, and stops on {@code access_denied}, {@code expired_token}
 * (or when the code's {@code expires_in} has passed) and on any other error, with the provider's
 * words. It does not own where the token goes ({@link OAuthLogin}).
 */
final class DeviceCodeFlow {

    /** Waits between polls; tests record the waits instead of sleeping through them. */
    interface Sleeper {
        void sleep(Duration d) throws InterruptedException;
    }

    static final String GRANT = "urn:ietf:params:oauth:grant-type:device_code";
    /** RFC 8628 3.2: the interval when the reply names none; 3.5: the increase on slow_down. */
    static final Duration DEFAULT_INTERVAL = Duration.ofSeconds(5);
    static final Duration SLOW_DOWN = Duration.ofSeconds(5);

    private final OAuthEndpoint endpoint;
    private final Sleeper sleeper;
    private final PrintStream out;

    DeviceCodeFlow(OAuthEndpoint endpoint, Sleeper sleeper, PrintStream out) {
        this.endpoint = endpoint;
        this.sleeper = sleeper;
        this.out = out;
    }

    /**
     * Runs the sign-in to the end.
     *
     * @param client the client_id, and client_secret when the registration has one (Google's)
     * @return the token endpoint's successful reply (access_token, refresh_token, ...)
     * @throws LoginException with the provider's words when the sign-in does not complete
     */
    JsonNode signIn(String deviceUrl, String tokenUrl, Map<String, String> client, String scope, String who)
            throws LoginException {
        Map<String, String> ask = new LinkedHashMap<>(client);
        ask.remove("client_secret"); // RFC 8628 3.1 sends client_id and scope; Google takes the secret only at 3.4
        ask.put("scope", scope);
        OAuthEndpoint.Reply start = post(deviceUrl, ask, "device authorization endpoint");
        if (!start.ok()) {
            throw new LoginException("the device authorization endpoint refused the sign-in: " + start.describe()
                    + hint(start));
        }
        JsonNode j = start.json();
        String deviceCode = j.path("device_code").asText("");
        String userCode = j.path("user_code").asText("");
        // Google spells it verification_url (its docs); RFC 8628 and Microsoft verification_uri.
        String verify = j.path("verification_uri").asText(j.path("verification_url").asText(""));
        if (deviceCode.isEmpty() || userCode.isEmpty() || verify.isEmpty()) {
            throw new LoginException("the device authorization endpoint answered without device_code, user_code"
                    + " or verification_uri (HTTP " + start.status() + ")");
        }
        Duration interval = j.path("interval").canConvertToInt() && j.path("interval").asInt() > 0
                ? Duration.ofSeconds(j.path("interval").asInt()) : DEFAULT_INTERVAL;
        long lifetime = j.path("expires_in").canConvertToLong() ? j.path("expires_in").asLong() : 900;
        long deadline = System.nanoTime() + Duration.ofSeconds(lifetime).toNanos();
        out.println("To sign in " + who + ", open");
        out.println();
        out.println("    " + verify);
        out.println();
        out.println("in any browser (on any machine) and enter the code");
        out.println();
        out.println("    " + userCode);
        out.println();
        out.println("The code is valid for " + Math.max(1, lifetime / 60) + " minutes. Waiting for the sign-in...");
        out.flush();

        Map<String, String> poll = new LinkedHashMap<>(client);
        poll.put("grant_type", GRANT);
        poll.put("device_code", deviceCode);
        while (true) {
            try {
                sleeper.sleep(interval);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new LoginException("interrupted while waiting for the sign-in");
            }
            if (System.nanoTime() - deadline > 0) {
                throw new LoginException("the code expired before the sign-in was completed; run the command again");
            }
            OAuthEndpoint.Reply r;
            try {
                r = endpoint.post(tokenUrl, poll);
            } catch (IOException e) {
                // RFC 8628 3.5: on a connection timeout, poll less often rather than give up.
                interval = interval.multipliedBy(2);
                out.println("token endpoint unreachable (" + e.getMessage() + "); trying again in "
                        + interval.toSeconds() + "s");
                continue;
            }
            if (r.ok()) {
                return r.json();
            }
            switch (r.error()) {
                case "authorization_pending" -> { }
                case "slow_down" -> interval = interval.plus(SLOW_DOWN);
                case "access_denied" -> throw new LoginException("the sign-in was declined (" + r.describe() + ")");
                case "expired_token" -> throw new LoginException("the code expired before the sign-in was completed;"
                        + " run the command again (" + r.describe() + ")");
                default -> {
                    if (r.status() >= 500 || r.status() == 429) {
                        interval = interval.multipliedBy(2);
                        continue;
                    }
                    throw new LoginException("the token endpoint refused the sign-in: " + r.describe());
                }
            }
        }
    }

    private OAuthEndpoint.Reply post(String url, Map<String, String> form, String what) throws LoginException {
        try {
            return endpoint.post(url, form);
        } catch (IOException e) {
            throw new LoginException("cannot reach the " + what + ": " + e.getMessage());
        }
    }

    /** What the operator can do about the refusals seen most. */
    private static String hint(OAuthEndpoint.Reply r) {
        String d = r.describe();
        if (r.error().equals("invalid_scope") && d.contains("device flow scope")) {
            return "; this provider's device flow does not allow the scope: use relaybox upstream login --browser";
        }
        if (d.contains("AADSTS7000218") || d.contains("AADSTS70002")) {
            return "; in Microsoft Entra, App registrations > your app > Authentication: set \"Allow public client"
                    + " flows\" to Yes";
        }
        return "";
    }
}
