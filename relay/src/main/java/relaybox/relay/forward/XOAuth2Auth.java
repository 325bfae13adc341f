package relaybox.relay.forward;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * AUTH XOAUTH2 as Microsoft and Google implement it: the initial response is
 * {@code base64("user=" user ^A "auth=Bearer " token ^A ^A)}. A refused token gets a {@code 334}
 * whose text is a base64 JSON error; the client answers it with an empty line and the server
 * then sends its final refusal ({@code 535}), which {@link FailurePolicy} classifies as a
 * configuration failure of the session opening. A refusal also drops the cached access token,
 * so the next attempt fetches a new one.
 */
final class XOAuth2Auth implements AuthMechanism {

    private final TokenSource tokens;

    XOAuth2Auth(TokenSource tokens) {
        this.tokens = tokens;
    }

    @Override
    public String name() {
        return "XOAUTH2";
    }

    @Override
    public String identity() {
        return tokens.user();
    }

    @Override
    public UpstreamReply authenticate(Dialog dialog) throws SessionException, Unavailable {
        TokenSource.Token t = tokens.accessToken();
        String ir = "user=" + t.user() + "\u0001auth=Bearer " + t.value() + "\u0001\u0001";
        UpstreamReply r = dialog.send("AUTH XOAUTH2 " + Base64.getEncoder().encodeToString(ir.getBytes(StandardCharsets.UTF_8)));
        if (r.code() == 334) {
            // The error challenge: an empty response ends the exchange and brings the final reply.
            r = dialog.send("");
        }
        return r;
    }

    @Override
    public void refused() {
        tokens.invalidate();
    }
}
