package relaybox.relay.forward;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/** AUTH PLAIN (RFC 4616) with the initial response on the command line: one round trip. */
final class PlainAuth implements AuthMechanism {

    private final Credentials creds;

    PlainAuth(Credentials creds) {
        this.creds = creds;
    }

    @Override
    public String name() {
        return "PLAIN";
    }

    @Override
    public String identity() {
        return creds.username();
    }

    @Override
    public UpstreamReply authenticate(Dialog dialog) throws SessionException {
        String token = Base64.getEncoder().encodeToString(
                ("\0" + creds.username() + "\0" + creds.password()).getBytes(StandardCharsets.UTF_8));
        return dialog.send("AUTH PLAIN " + token);
    }
}
