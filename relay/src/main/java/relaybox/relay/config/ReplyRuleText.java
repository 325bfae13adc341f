package relaybox.relay.config;

import java.util.Locale;

/**
 * The syntax of one {@code temporary_replies} entry of an upstream, checked when the
 * configuration is read: {@code "CODE"} or {@code "CODE text"}, CODE one to three digits. A plain
 * value; the forwarder turns it into its {@code ReplyRule}, which matches replies.
 *
 * @param codePrefix the digits a reply code must start with
 * @param text       what the reply text must contain, lower case; "" for any text
 */
public record ReplyRuleText(String codePrefix, String text) {

    /** Parses one entry; IllegalArgumentException saying what is expected when it is not one. */
    public static ReplyRuleText parse(String rule) {
        String r = rule.strip();
        int sp = r.indexOf(' ');
        String code = sp < 0 ? r : r.substring(0, sp);
        if (code.isEmpty() || code.length() > 3 || !code.chars().allMatch(Character::isDigit)) {
            throw new IllegalArgumentException("a reply rule starts with a reply code, like \"454 Throttling\"");
        }
        return new ReplyRuleText(code, sp < 0 ? "" : r.substring(sp + 1).strip().toLowerCase(Locale.ROOT));
    }
}
