package relaybox.relay.mail;

import java.net.IDN;
import java.util.Locale;
import java.util.Optional;

/**
 * The syntax of the names mail is made of, as more than one package checks them: header field
 * names (RFC 5322) and domains normalised for comparison. Depends on nothing of relaybox, so the
 * configuration can check a name with the same rule DKIM signs by without either importing the
 * other.
 */
public final class MailNames {
    private MailNames() {
    }

    /**
     * True for a field name as RFC 5322 allows it: printable US-ASCII except the colon. A loop,
     * not a regex: the intake asks for every header field of every message.
     */
    public static boolean isFieldName(String s) {
        if (s.isEmpty()) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < '!' || c > '~' || c == ':') {
                return false;
            }
        }
        return true;
    }

    /** Normalises a domain for key lookup: trimmed, no trailing dot, A-label, lower case. */
    public static Optional<String> domainOf(String raw) {
        String d = raw.trim().replaceAll("[;>\\s].*$", "");
        if (d.endsWith(".")) {
            d = d.substring(0, d.length() - 1);
        }
        if (d.isEmpty() || d.startsWith("[")) {
            return Optional.empty(); // address literals have no DKIM domain
        }
        try {
            d = IDN.toASCII(d, IDN.ALLOW_UNASSIGNED);
        } catch (IllegalArgumentException e) {
            return Optional.empty();
        }
        return Optional.of(d.toLowerCase(Locale.ROOT));
    }
}
