package relaybox.relay.intake;

import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.regex.Pattern;

/**
 * Parses the argument of MAIL FROM: and RCPT TO: into a path and ESMTP parameters. Replaces
 * James's parsing, which goes through {@code MailAddress} and refuses UTF-8 local parts with
 * 501 5.1.7 even under SMTPUTF8 (RFC 6531). The check is deliberately simple: relaybox passes
 * addresses on, the upstream judges them; we only refuse what cannot be a mailbox.
 *
 * @param address    the mailbox without angle brackets; "" for the null reverse-path
 * @param parameters the ESMTP parameters after the path, as given (e.g. "SIZE=1000", "SMTPUTF8")
 */
record SmtpPath(String address, List<String> parameters) {

    // Compiled once: String.split(" +") compiled it again for every MAIL and RCPT.
    private static final Pattern SPACES = Pattern.compile(" +");

    /** Parses {@code FROM:<a@b> PARAM...} (or TO:); empty when the syntax is wrong. */
    static Optional<SmtpPath> parse(String argument, String keyword) {
        if (argument == null) {
            return Optional.empty();
        }
        String a = argument.trim();
        if (a.length() < keyword.length() + 1
                || !a.regionMatches(true, 0, keyword, 0, keyword.length())
                || a.charAt(keyword.length()) != ':') {
            return Optional.empty();
        }
        a = a.substring(keyword.length() + 1).trim();
        if (!a.startsWith("<")) {
            return Optional.empty();
        }
        // Find the closing bracket, skipping quoted strings in the local part.
        int end = -1;
        boolean quoted = false;
        for (int i = 1; i < a.length(); i++) {
            char c = a.charAt(i);
            if (c == '\\' && quoted) {
                i++;
            } else if (c == '"') {
                quoted = !quoted;
            } else if (c == '>' && !quoted) {
                end = i;
                break;
            }
        }
        if (end < 0) {
            return Optional.empty();
        }
        String path = a.substring(1, end);
        // A source route (RFC 5321 4.1.2, "@a,@b:user@c") is ignored, as the RFC asks.
        if (path.startsWith("@") && path.contains(":")) {
            path = path.substring(path.indexOf(':') + 1);
        }
        String rest = a.substring(end + 1);
        if (!rest.isEmpty() && !rest.startsWith(" ")) {
            return Optional.empty();
        }
        List<String> params = new ArrayList<>();
        for (String p : SPACES.split(rest.trim())) {
            if (!p.isEmpty()) {
                params.add(p);
            }
        }
        return Optional.of(new SmtpPath(path, List.copyOf(params)));
    }

    /** True for local@domain with nothing that cannot appear in a mailbox (or "postmaster"). */
    static boolean isMailbox(String s) {
        if (s.equalsIgnoreCase("postmaster")) {
            return true;
        }
        int at = s.lastIndexOf('@');
        if (at <= 0 || at == s.length() - 1 || s.length() > 320) {
            return false;
        }
        String local = s.substring(0, at);
        String domain = s.substring(at + 1);
        boolean quoted = local.length() >= 2 && local.startsWith("\"") && local.endsWith("\"");
        if (!quoted && local.contains("@")) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c < 0x20 || c == 0x7f) {
                return false;
            }
            boolean inLocal = i < at;
            if (!(inLocal && quoted) && (c == ' ' || c == '<' || c == '>' || c == ',' || c == ';'
                    || c == '(' || c == ')' || c == '\\' || (c == '"' && !inLocal))) {
                return false;
            }
        }
        if (domain.startsWith("[")) {
            return domain.endsWith("]") && domain.length() > 2;
        }
        return !domain.contains("@") && !domain.startsWith(".") && !domain.endsWith(".")
                && !domain.contains("..") && !domain.startsWith("-");
    }

    static boolean isAscii(String s) {
        for (int i = 0; i < s.length(); i++) {
            if (s.charAt(i) >= 0x80) {
                return false;
            }
        }
        return true;
    }
}
