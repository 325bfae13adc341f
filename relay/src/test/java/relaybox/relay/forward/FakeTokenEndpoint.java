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

    public FakeTokenEndpoint() throws IOException {
        server = HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
        server.createContext("/tenant/oauth2/v2.0/token", this::token);
        server.start();
    }

    public String url() {
        return "http://127.0.0.1:" + server.getAddress().getPort() + "/tenant/oauth2/v2.0/token";
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

    public boolean accessValid(String token) {
        Long until = accessTokens.get(token);
        return until != null && System.currentTimeMillis() < until;
    }

    private synchronized void token(HttpExchange x) throws IOException {
        calls.incrementAndGet();
        Map<String, String> form = new HashMap<>();
        for (String kv : new String(x.getRequestBody().readAllBytes(), StandardCharsets.UTF_8).split("&")) {
            String[] p = kv.split("=", 2);
            form.put(URLDecoder.decode(p[0], StandardCharsets.UTF_8),
                    p.length > 1 ? URLDecoder.decode(p[1], StandardCharsets.UTF_8) : "");
        }
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
