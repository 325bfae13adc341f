package relaybox.relay.forward;

import java.util.List;
import java.util.Locale;
import java.util.Optional;

/**
 * Owns what relaybox knows about the big providers' replies: the one home of ESP-specific reply
 * knowledge, as a table of data that {@link FailurePolicy} consults before its generic rules. Each
 * row names a reply by code, enhanced status and words in its text, says what it means for the
 * upstream as a whole ({@link Meaning}) and where the reply was read (see
 * {@code shared/notes/upstreams.md} and the README's "Provider replies"). A reply no row knows is
 * classified by the generic table; nothing here makes a reply permanent.
 */
final class ProviderReplies {

    /** What a known reply means for the upstream, beyond the message that met it. */
    enum Meaning {
        /** Sending too fast or on too many connections: temporary; slow that upstream down. */
        THROTTLED,
        /** A daily quota is used up (even if answered with 5xx): pause the upstream, never fail the mail. */
        QUOTA,
        /**
         * Microsoft's continuous-error throttling of a mailbox: pause and alert, because every
         * retry while it lasts extends it.
         */
        SENDER_BLOCKED,
        /** Microsoft: SMTP AUTH is disabled for the mailbox or tenant; the operator must switch it on. */
        SMTP_AUTH_DISABLED
    }

    /**
     * One known reply.
     *
     * @param code     the reply code, or "" for any
     * @param statuses enhanced status codes it carries (any of them), empty for any
     * @param words    words its text contains, all of them, ignoring case
     * @param meaning  what it means for the upstream
     * @param source   who sends it, and where that was read
     */
    record Known(String code, List<String> statuses, List<String> words, Meaning meaning, String source) {

        boolean matches(UpstreamReply r, String status) {
            if (!code.isEmpty() && !code.equals(Integer.toString(r.code()))) {
                return false;
            }
            if (!statuses.isEmpty() && !statuses.contains(status)) {
                return false;
            }
            String text = r.text().toLowerCase(Locale.ROOT);
            return words.stream().allMatch(text::contains);
        }
    }

    /** Tried in order: the first match wins, so the specific rows come before the generic one. */
    static final List<Known> KNOWN = List.of(
            new Known("454", List.of(), List.of("throttling"), Meaning.THROTTLED,
                    "Amazon SES: 454 Throttling failure: Maximum sending rate exceeded"),
            new Known("432", List.of("4.3.2"), List.of(), Meaning.THROTTLED,
                    "Microsoft 365: 432 4.3.2 Concurrent connections limit exceeded (3 per mailbox)"),
            new Known("450", List.of("4.2.1"), List.of("peak smtp relay limit"), Meaning.THROTTLED,
                    "Google smtp-relay: 450 4.2.1 Peak SMTP relay limit exceeded (support.google.com/a/answer/3726730)"),
            new Known("421", List.of("4.7.0"), List.of("try again later"), Meaning.THROTTLED,
                    "Google: 421 4.7.0 Try again later, closing connection"),
            new Known("550", List.of("5.4.5"), List.of("limit"), Meaning.QUOTA,
                    "Google: 550 5.4.5 Daily SMTP relay limit exceeded for user (10,000 recipients per 24 h)"),
            new Known("550", List.of("5.7.1"), List.of("daily", "limit exceeded"), Meaning.QUOTA,
                    "Google smtp-relay: 550 5.7.1 Daily SMTP relay limit exceeded for customer"),
            new Known("554", List.of("5.2.0"), List.of("storedrv", "quota"), Meaning.QUOTA,
                    "Microsoft 365: 554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException"
                            + " (10,000 recipients a day)"),
            new Known("", List.of("5.2.251", "5.2.252", "5.2.253", "5.2.254", "5.2.255"), List.of(),
                    Meaning.SENDER_BLOCKED, "Microsoft 365: 550 5.2.25x Sender throttled due to continuous ..."
                    + " (learn.microsoft.com, continuous-error throttling of SMTP AUTH submissions)"),
            new Known("535", List.of("5.7.139"), List.of(), Meaning.SMTP_AUTH_DISABLED,
                    "Microsoft 365: 535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled"),
            new Known("", List.of(), List.of("throttl"), Meaning.THROTTLED,
                    "any upstream whose reply says it is throttling"));

    /** What the operator is told to do about a {@link Meaning#SMTP_AUTH_DISABLED} reply. */
    static final String SMTP_AUTH_ADVICE = "SMTP AUTH is disabled for this mailbox or tenant: switch it on"
            + " (Exchange Online PowerShell: Set-CASMailbox -Identity <mailbox> -SmtpClientAuthenticationDisabled"
            + " $false; for the whole tenant: Set-TransportConfig -SmtpClientAuthenticationDisabled $false)";

    private ProviderReplies() {
    }

    /** The first known reply {@code r} matches. */
    static Optional<Known> match(UpstreamReply r) {
        String status = Outcome.enhancedStatus(r);
        for (Known k : KNOWN) {
            if (k.matches(r, status)) {
                return Optional.of(k);
            }
        }
        return Optional.empty();
    }
}
