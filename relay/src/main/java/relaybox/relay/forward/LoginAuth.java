package relaybox.relay.forward;

import java.nio.charset.StandardCharsets;
import java.util.Base64;

/**
 * AUTH LOGIN (the de facto mechanism Microsoft 365 offers besides XOAUTH2): the user name and the
 * password, each answering a 334 challenge. Any other reply to a step ends the exchange with it.
 */
final class LoginAuth implements AuthMechanism {

    private final Credentials creds;

    LoginAuth(Credentials creds) {
        this.creds = creds;
    }

    @Override
    public String name() {
        return "LOGIN";
    }

    @Override
    public String identity() {
        return creds.username();
    }

    @Override
    public UpstreamReply authenticate(Dialog dialog) throws SessionException {
        Base64.Encoder b64 = Base64.getEncoder();
        UpstreamReply r = dialog.send("AUTH LOGIN");
        if (r.code() != 334) {
            return r;
        }
        r = dialog.send(b64.encodeToString(creds.username().getBytes(StandardCharsets.UTF_8)));
        if (r.code() != 334) {
            return r;
        }
        return dialog.send(b64.encodeToString(creds.password().getBytes(StandardCharsets.UTF_8)));
    }
}
