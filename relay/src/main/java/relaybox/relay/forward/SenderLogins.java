package relaybox.relay.forward;

import relaybox.relay.config.SenderLogin;
import relaybox.relay.config.UpstreamConfig;

import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Owns which login of one upstream carries a sender's mail: the login naming the envelope
 * sender's exact address, else the one naming its domain, else the upstream's own auth_file; when
 * the upstream has logins but no auth_file of its own, a sender none names gets {@link Login#NONE}
 * (its mail defers as a configuration error rather than going out under another sender's login).
 * The null sender (bounces) has no address or domain, so it is never named by a login. Pure after
 * construction; thread safe.
 */
final class SenderLogins {

    private final Map<String, Login> byAddress = new HashMap<>();
    private final Map<String, Login> byDomain = new HashMap<>();
    private final Login fallback;

    SenderLogins(UpstreamConfig upstream) {
        List<SenderLogin> logins = upstream.logins();
        for (int i = 0; i < logins.size(); i++) {
            for (String s : logins.get(i).senders()) {
                (SenderLogin.isAddress(s) ? byAddress : byDomain).put(s, new Login(i));
            }
        }
        fallback = logins.isEmpty() || upstream.authFile() != null ? Login.DEFAULT : Login.NONE;
    }

    /** The login for mail from {@code sender} (the client's envelope sender, "" for the null sender). */
    Login pick(String sender) {
        if (byAddress.isEmpty() && byDomain.isEmpty()) {
            return Login.DEFAULT;
        }
        String s = sender.toLowerCase(Locale.ROOT);
        Login l = byAddress.get(s);
        if (l != null) {
            return l;
        }
        int at = s.lastIndexOf('@');
        if (at >= 0) {
            l = byDomain.get(s.substring(at + 1));
            if (l != null) {
                return l;
            }
        }
        return fallback;
    }
}
