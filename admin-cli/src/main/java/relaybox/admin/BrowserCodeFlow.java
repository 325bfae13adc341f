package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * Owns the browser sign-in of {@code relaybox upstream login --browser}: the authorization-code
 * grant with PKCE (RFC 7636) and a loopback redirect, as Google documents for desktop and
 * command-line applications (its device flow refuses the Gmail scope). Nothing listens on the
 * loopback address: the operator signs in in any browser, the browser ends at
 * {@code http://127.0.0.1:PORT/?code=...} (a page that does not load), and the operator pastes
 * that address here. The state is checked, then the code and the verifier are exchanged at the
 * token endpoint. It does not own where the token goes ({@link OAuthLogin}).
 */
final class BrowserCodeFlow {

    private static final SecureRandom RANDOM = new SecureRandom();

    private final OAuthEndpoint endpoint;
    private final BufferedReader in;
    private final PrintStream out;

    BrowserCodeFlow(OAuthEndpoint endpoint, BufferedReader in, PrintStream out) {
        this.endpoint = endpoint;
        this.in = in;
        this.out = out;
    }

    /**
     * Runs the sign-in to the end.
     *
     * @param extra further authorization parameters (Google: access_type=offline, prompt=consent,
     *              without which it issues no refresh token)
     * @return the token endpoint's successful reply
     */
    JsonNode signIn(String authorizeUrl, String tokenUrl, Map<String, String> client, String scope,
                    String redirectUri, String loginHint, Map<String, String> extra, String who)
            throws LoginException {
        String verifier = random(32);
        String state = random(16);
        Map<String, String> q = new LinkedHashMap<>();
        q.put("client_id", client.get("client_id"));
        q.put("response_type", "code");
        q.put("redirect_uri", redirectUri);
        q.put("scope", scope);
        q.put("state", state);
        q.put("code_challenge", challenge(verifier));
        q.put("code_challenge_method", "S256");
        if (loginHint != null && !loginHint.isEmpty()) {
            q.put("login_hint", loginHint);
        }
        q.putAll(extra);
        String url = authorizeUrl + (authorizeUrl.contains("?") ? "&" : "?") + q.entrySet().stream()
                .map(e -> e.getKey() + "=" + URLEncoder.encode(e.getValue(), StandardCharsets.UTF_8))
                .collect(Collectors.joining("&"));
        out.println("To sign in " + who + ", open this address in any browser (on any machine):");
        out.println();
        out.println(url);
        out.println();
        out.println("After you consent, the browser goes to " + redirectUri + "... and shows an error page:");
        out.println("that is expected (nothing listens there). Copy the whole address from the browser's");
        out.println("address bar and paste it here, then press Enter:");
        out.flush();
        String pasted;
        try {
            pasted = in.readLine();
        } catch (IOException e) {
            throw new LoginException("cannot read the pasted address: " + e.getMessage());
        }
        if (pasted == null || pasted.isBlank()) {
            throw new LoginException("no address was pasted; run the command again");
        }
        Map<String, String> reply = query(pasted.strip());
        if (reply.containsKey("error")) {
            throw new LoginException("the sign-in was not completed: " + reply.get("error")
                    + (reply.containsKey("error_description") ? ": " + reply.get("error_description") : ""));
        }
        if (!state.equals(reply.get("state"))) {
            // Not this sign-in's answer: an old tab, or someone else's code.
            throw new LoginException("the pasted address is not the answer to this sign-in (its state does not"
                    + " match); run the command again and paste the address the browser ends at");
        }
        String code = reply.get("code");
        if (code == null || code.isEmpty()) {
            throw new LoginException("the pasted address holds no code=...; paste the whole address");
        }
        Map<String, String> form = new LinkedHashMap<>(client);
        form.put("grant_type", "authorization_code");
        form.put("code", code);
        form.put("redirect_uri", redirectUri);
        form.put("code_verifier", verifier);
        form.put("scope", scope);
        OAuthEndpoint.Reply r;
        try {
            r = endpoint.post(tokenUrl, form);
        } catch (IOException e) {
            throw new LoginException("cannot reach the token endpoint: " + e.getMessage());
        }
        if (!r.ok()) {
            throw new LoginException("the token endpoint refused the sign-in: " + r.describe());
        }
        return r.json();
    }

    /** The query parameters of a pasted address (or of a bare query string). */
    static Map<String, String> query(String address) {
        String q = address;
        try {
            URI u = URI.create(address);
            q = u.getRawQuery() != null ? u.getRawQuery() : address;
        } catch (IllegalArgumentException notAUri) {
            int at = address.indexOf('?');
            q = at >= 0 ? address.substring(at + 1) : address;
        }
        Map<String, String> m = new HashMap<>();
        for (String kv : q.split("&")) {
            String[] p = kv.split("=", 2);
            if (p.length == 2) {
                m.putIfAbsent(URLDecoder.decode(p[0], StandardCharsets.UTF_8),
                        URLDecoder.decode(p[1], StandardCharsets.UTF_8));
            }
        }
        return m;
    }

    /** The S256 code challenge of {@code verifier} (RFC 7636 4.2). */
    static String challenge(String verifier) {
        try {
            byte[] d = MessageDigest.getInstance("SHA-256").digest(verifier.getBytes(StandardCharsets.US_ASCII));
            return Base64.getUrlEncoder().withoutPadding().encodeToString(d);
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is in every JDK", e);
        }
    }

    private static String random(int bytes) {
        byte[] b = new byte[bytes];
        RANDOM.nextBytes(b);
        return Base64.getUrlEncoder().withoutPadding().encodeToString(b);
    }
}
