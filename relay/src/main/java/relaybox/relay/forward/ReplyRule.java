package relaybox.relay.forward;

import java.util.Locale;

/**
 * One per-upstream rule that makes a reply temporary, from an upstream's {@code temporary_replies}
 * list. Written as {@code "CODE"} or {@code "CODE text"}: the reply matches when its code starts
 * with CODE (so "55" matches every 55x) and, if text is given, its text contains it, ignoring case.
 * Examples: {@code "454 Throttling"} (SES after DATA), {@code "550 try again"}.
 */
public record ReplyRule(String codePrefix, String text) {

    public static ReplyRule parse(String rule) {
        String r = rule.strip();
        int sp = r.indexOf(' ');
        String code = sp < 0 ? r : r.substring(0, sp);
        if (code.isEmpty() || code.length() > 3 || !code.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("a reply rule starts with a reply code, like \"454 Throttling\"");
        }
        return new ReplyRule(code, sp < 0 ? "" : r.substring(sp + 1).strip().toLowerCase(Locale.ROOT));
    }

    public boolean matches(UpstreamReply reply) {
        return Integer.toString(reply.code()).startsWith(codePrefix)
                && (text.isEmpty() || reply.text().toLowerCase(Locale.ROOT).contains(text));
    }
}
