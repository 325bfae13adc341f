package relaybox.relay.forward;

import relaybox.relay.config.ReplyRuleText;

import java.util.Locale;

/**
 * One per-upstream rule that makes a reply temporary, from an upstream's {@code temporary_replies}
 * list. Written as {@code "CODE"} or {@code "CODE text"}: the reply matches when its code starts
 * with CODE (so "55" matches every 55x) and, if text is given, its text contains it, ignoring case.
 * Examples: {@code "454 Throttling"} (SES after DATA), {@code "550 try again"}.
 */
public record ReplyRule(String codePrefix, String text) {

    /** The rule as written; the syntax is the configuration's ({@link ReplyRuleText}), checked at load. */
    public static ReplyRule parse(String rule) {
        ReplyRuleText t = ReplyRuleText.parse(rule);
        return new ReplyRule(t.codePrefix(), t.text());
    }

    public boolean matches(UpstreamReply reply) {
        return Integer.toString(reply.code()).startsWith(codePrefix)
                && (text.isEmpty() || reply.text().toLowerCase(Locale.ROOT).contains(text));
    }
}
