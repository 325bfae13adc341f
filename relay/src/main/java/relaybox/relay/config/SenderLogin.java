package relaybox.relay.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Locale;
import java.util.Set;

/**
 * One {@code [[upstream.login]]} table: a second (third, ...) login on the same upstream host,
 * used for the mail of the senders it names (Mailgun: one SMTP credential per sending domain;
 * Microsoft 365: one mailbox per sender). Its secrets live in its own {@code auth_file}, under
 * the same rules as the upstream's; the upstream's {@code oauth_*} settings apply to it when it
 * authenticates with XOAUTH2 (its refresh token is its own).
 *
 * @param senders     senders: envelope-sender addresses ("alice@example.com") and domains
 *                    ("example.org", or "@example.org") whose mail this login carries; lower case
 * @param authFile    auth_file: the secrets file of this login
 * @param fromRewrite from_rewrite: the verified identity written into From: for these senders,
 *                    instead of the upstream's; "" to use the upstream's
 */
public record SenderLogin(List<String> senders, Path authFile, String fromRewrite) {

    public SenderLogin {
        senders = List.copyOf(senders);
    }

    /** True when {@code pattern} names one address, not a domain. */
    public static boolean isAddress(String pattern) {
        return pattern.indexOf('@') > 0;
    }

    /** The {@code [[upstream.login]]} tables of one upstream table; a sender named twice is an error. */
    static List<SenderLogin> from(ConfigReader upstream) throws ConfigException {
        List<SenderLogin> out = new ArrayList<>();
        Set<String> seen = new HashSet<>();
        for (ConfigReader r : upstream.tables("login")) {
            List<String> senders = new ArrayList<>();
            for (String s : r.stringList("senders", List.of())) {
                String p = s.strip().toLowerCase(Locale.ROOT);
                if (p.startsWith("@")) {
                    p = p.substring(1);
                }
                if (p.isEmpty() || p.contains(" ") || p.contains("<") || p.contains(">") || p.indexOf('@') == p.length() - 1
                        || p.chars().filter(c -> c == '@').count() > 1) {
                    throw r.error("senders", "expected addresses (alice@example.com) or domains (example.org)", s);
                }
                if (!seen.add(p)) {
                    throw r.error("senders", "this sender is named by two [[upstream.login]] tables", s);
                }
                senders.add(p);
            }
            if (senders.isEmpty()) {
                throw r.error("senders", "a login needs the senders whose mail it carries", "[]");
            }
            Path auth = r.path("auth_file", null);
            if (auth == null) {
                throw r.error("auth_file", "a login needs its secrets file", "");
            }
            String from = FromRewriteKey.read(r);
            out.add(new SenderLogin(senders, auth, from));
        }
        return out;
    }
}
