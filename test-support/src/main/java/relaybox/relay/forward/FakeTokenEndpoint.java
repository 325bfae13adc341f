package relaybox.relay.forward;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.security.SecureRandom;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A fake OAuth 2.0 token endpoint (RFC 6749) on a real HTTP server on a free loopback port, as
 * Microsoft's and Google's behave: it issues access tokens for a valid refresh token (or client
 * secret), lets them expire, rotates the refresh token when asked to, revokes on demand (then
 * answers {@code invalid_grant} with an {@code AADSTS700082} description) and counts its calls.
 * {@link #accessValid} tells the fake ESP which bearer tokens to accept.
 *
 * <p>It also plays the sign-in that gives the first refresh token: the device authorization grant
 * (RFC 8628) at {@link #deviceUrl}, whose polls are answered from {@link #devicePolls}
 * ({@code authorization_pending}, {@code slow_down}, ...) and then by {@link #deviceOutcome},
 * with the time of every poll recorded; and the authorization-code grant with PKCE (RFC 7636)
 * of a browser sign-in, whose code {@link #approveBrowser} hands out as the provider's page would.
 */
public final class FakeTokenEndpoint implements AutoCloseable {

    public static final String CLIENT_ID = "00000000-1111-2222-3333-444444444444";
    private static final SecureRandom RANDOM = new SecureRandom();

    /** Access tokens' lifetime in seconds, as sent in expires_in. */
    public volatile long expiresIn = 3599;
    /** Issue a new refresh token with every grant and revoke the one used (Microsoft may). */
    public volatile boolean rotate;
    /** Answer with HTTP 503 (the provider's trouble, not the operator's). */
    public volatile boolean unavailable;
    public volatile String clientSecret = "the-client-secret";

    public final AtomicInteger calls = new AtomicInteger();
    /** Every form received, for asserting on what the client sent. */
    public final List<Map<String, String>> forms = new CopyOnWriteArrayList<>();
    private final Set<String> refreshTokens = ConcurrentHashMap.newKeySet();
    private final Map<String, Long> accessTokens = new ConcurrentHashMap<>();
    /** Every token this endpoint ever issued (access and refresh), for the secrets grep. */
    public final Set<String> issued = ConcurrentHashMap.newKeySet();
    private final HttpServer server;

    /** The device flow's polling interval in seconds, as sent in the device authorization reply. */
    public volatile int deviceInterval = 1;
    /** The device code's lifetime in seconds (expires_in). */
    public volatile int deviceExpiresIn = 900;
    /** Answers to the device flow's polls, in order (an OAuth error code each); then {@link #deviceOutcome}. */
    public final java.util.Deque<String> devicePolls = new java.util.concurrent.ConcurrentLinkedDeque<>();
    /** After {@link #devicePolls}: "approve" (tokens), "access_denied" or "expired_token". */
    public volatile String deviceOutcome = "approve";
    /** When set, the device authorization request is refused with this scope (as Google refuses Gmail's). */
    public volatile String deviceRefusedScope;
    /** When set, the device authorization request is refused with this {"error": ..., "error_description": ...}. */
    public volatile String deviceError;
    /** Google spells it verification_url; Microsoft verification_uri. */
    public volatile boolean googleSpelling;
    /** Nanosecond times of the device-code token polls. */
    public final List<Long> pollTimes = new CopyOnWriteArrayList<>();
    /** Every device authorization request's form. */
    public final List<Map<String, String>> deviceForms = new CopyOnWriteArrayList<>();
    /** The refresh token the last completed sign-in issued. */
    public volatile String signedInRefreshToken;
    private final Map<String, String> deviceCodes = new ConcurrentHashMap<>();
    private final Map<String, String> browserCodes = new ConcurrentHashMap<>();

    public FakeTokenEndpoint() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/tenant/oauth2/v2.0/token", this::token);
        server.createContext("/tenant/oauth2/v2.0/devicecode", this::deviceCode);
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/tenant/oauth2/v2.0/token";
    }

    public String deviceUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/tenant/oauth2/v2.0/devicecode";
    }

    /** Never served: the browser would go there; tests call {@link #approveBrowser} instead. */
    public String authorizeUrl() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/tenant/oauth2/v2.0/authorize";
    }

    /**
     * What the provider's sign-in page does once the user consents: remembers the PKCE challenge
     * and returns the authorization code it would put in the redirect.
     */
    public String approveBrowser(String codeChallenge) {
        String code = "code-" + random();
        browserCodes.put(code, codeChallenge);
        return code;
    }

    /** Makes {@code token} a valid refresh token (what an operator got by signing in). */
    public String grant(String token) {
        refreshTokens.add(token);
        issued.add(token);
        return token;
    }

    /** Revokes every refresh and access token (90 days idle, a password reset, an admin). */
    public void revokeAll() {
        refreshTokens.clear();
        accessTokens.clear();
    }

    /** The refresh token each access token was issued for (client-credentials: ""). */
    public final Map<String, String> grantedBy = new ConcurrentHashMap<>();
    /** How far the provider's clock runs ahead of ours: tokens die this much earlier than expires_in says. */
    public volatile long clockAheadMillis;

    public boolean accessValid(String token) {
        Long until = accessTokens.get(token);
        return until != null && System.currentTimeMillis() + clockAheadMillis < until;
    }

    private synchronized void token(HttpExchange x) throws IOException {
        calls.incrementAndGet();
        Map<String, String> form = form(x);
        forms.add(form);
        if (unavailable) {
            send(x, 503, "{\"error\":\"temporarily_unavailable\",\"error_description\":\"AADSTS90033: try later\"}");
            return;
        }
        if (!"POST".equals(x.getRequestMethod()) || !CLIENT_ID.equals(form.get("client_id"))) {
            send(x, 400, "{\"error\":\"unauthorized_client\",\"error_description\":\"AADSTS700016: unknown app\"}");
            return;
        }
        String grant = form.getOrDefault("grant_type", "");
        String newRefresh = null;
        if (grant.equals("refresh_token")) {
            String rt = form.getOrDefault("refresh_token", "");
            if (!refreshTokens.contains(rt)) {
                send(x, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS700082: The refresh token has"
                        + " expired due to inactivity.\\r\\nTrace ID: 1f4c\\r\\nCorrelation ID: 9e2a\"}");
                return;
            }
            if (rotate) {
                refreshTokens.remove(rt);
                newRefresh = grant("rt-" + random());
            }
        } else if (grant.equals("urn:ietf:params:oauth:grant-type:device_code")) {
            pollTimes.add(System.nanoTime());
            if (!deviceCodes.containsKey(form.getOrDefault("device_code", ""))) {
                send(x, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70000: unknown device code\"}");
                return;
            }
            String next = devicePolls.poll();
            String answer = next != null ? next : deviceOutcome;
            if (!answer.equals("approve")) {
                send(x, 400, "{\"error\":\"" + answer + "\",\"error_description\":\"" + describe(answer) + "\"}");
                return;
            }
            deviceCodes.remove(form.get("device_code"));
            newRefresh = signedIn();
        } else if (grant.equals("authorization_code")) {
            String challenge = browserCodes.remove(form.getOrDefault("code", ""));
            String verifier = form.getOrDefault("code_verifier", "");
            if (challenge == null || !challenge.equals(pkce(verifier))) {
                send(x, 400, "{\"error\":\"invalid_grant\",\"error_description\":\"AADSTS70008: The provided"
                        + " authorization code or refresh token has expired or the code_verifier does not match\"}");
                return;
            }
            newRefresh = signedIn();
        } else if (grant.equals("client_credentials")) {
            if (!clientSecret.equals(form.get("client_secret"))) {
                send(x, 401, "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000215: Invalid client secret\"}");
                return;
            }
        } else {
            send(x, 400, "{\"error\":\"unsupported_grant_type\"}");
            return;
        }
        String access = "at-" + random();
        issued.add(access);
        accessTokens.put(access, System.currentTimeMillis() + expiresIn * 1000);
        grantedBy.put(access, form.getOrDefault("refresh_token", ""));
        send(x, 200, "{\"token_type\":\"Bearer\",\"scope\":\"" + form.getOrDefault("scope", "") + "\",\"expires_in\":"
                + expiresIn + ",\"ext_expires_in\":" + expiresIn + ",\"access_token\":\"" + access + "\""
                + (newRefresh == null ? "" : ",\"refresh_token\":\"" + newRefresh + "\"") + "}");
    }

    private String signedIn() {
        String rt = grant("rt-signin-" + random());
        signedInRefreshToken = rt;
        return rt;
    }

    private static String describe(String error) {
        return switch (error) {
            case "authorization_pending" -> "AADSTS70016: OAuth 2.0 device flow error. Authorization is pending.";
            case "slow_down" -> "polling too fast";
            case "access_denied" -> "AADSTS70000: The user declined to authorize the application.";
            case "expired_token" -> "AADSTS70020: The provided value for the input parameter 'device_code' is not"
                    + " valid. This device code has expired.";
            default -> error;
        };
    }

    /** The S256 challenge of a PKCE verifier (RFC 7636 4.2). */
    public static String pkce(String verifier) {
        try {
            byte[] d = java.security.MessageDigest.getInstance("SHA-256")
                    .digest(verifier.getBytes(StandardCharsets.US_ASCII));
            return java.util.Base64.getUrlEncoder().withoutPadding().encodeToString(d);
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }

    private synchronized void deviceCode(HttpExchange x) throws IOException {
        calls.incrementAndGet();
        Map<String, String> form = form(x);
        deviceForms.add(form);
        if (!"POST".equals(x.getRequestMethod()) || !CLIENT_ID.equals(form.get("client_id"))) {
            send(x, 400, "{\"error\":\"unauthorized_client\",\"error_description\":\"AADSTS700016: unknown app\"}");
            return;
        }
        if (deviceError != null) {
            send(x, 400, deviceError);
            return;
        }
        String scope = form.getOrDefault("scope", "");
        if (deviceRefusedScope != null && scope.contains(deviceRefusedScope)) {
            send(x, 400, "{\"error\":\"invalid_scope\",\"error_description\":\"Invalid device flow scope: "
                    + deviceRefusedScope + "\"}");
            return;
        }
        String device = "dc-" + random();
        String user = "ABCD-" + random().substring(0, 4).toUpperCase(java.util.Locale.ROOT);
        deviceCodes.put(device, user);
        issued.add(device);
        String verify = "https://microsoft.com/devicelogin";
        send(x, 200, "{\"user_code\":\"" + user + "\",\"device_code\":\"" + device + "\",\""
                + (googleSpelling ? "verification_url" : "verification_uri") + "\":\"" + verify + "\",\"expires_in\":"
                + deviceExpiresIn + ",\"interval\":" + deviceInterval + ",\"message\":\"To sign in, use a web browser"
                + " to open the page " + verify + " and enter the code " + user + " to authenticate.\"}");
    }

    private static Map<String, String> form(HttpExchange x) throws IOException {
        Map<String, String> form = new HashMap<>();
        for (String kv : new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8).split("&")) {
            String[] p = kv.split("=", 2);
            form.put(URLDecoder.decode(p[0], StandardCharsets.UTF_8),
                    p.length > 1 ? URLDecoder.decode(p[1], StandardCharsets.UTF_8) : "");
        }
        return form;
    }

    private static String random() {
        byte[] b = new byte[24];
        RANDOM.nextBytes(b);
        return HexFormat.of().formatHex(b);
    }

    private static void send(HttpExchange x, int status, String json) throws IOException {
        byte[] body = json.getBytes(StandardCharsets.UTF_8);
        x.getResponseHeaders().set("Content-Type", "application/json; charset=utf-8");
        x.sendResponseHeaders(status, body.length);
        try (OutputStream os = x.getResponseBody()) {
            os.write(body);
        }
    }

    @Override
    public void close() {
        server.stop(0);
    }
}
