package relaybox.relay.forward;

/**
 * The providers {@link FakeEsp} can imitate ({@link Dialect}) and their replies word for word. An
 * interface that FakeEsp implements, so tests keep writing {@code FakeEsp.Dialect.MICROSOFT} and
 * {@code FakeEsp.MS_CONCURRENCY}; the presets a dialect sets are {@link FakeEsp#dialect(Dialect)}.
 */
public interface FakeEspProviders {

    /** A provider whose SMTP submission service the fake imitates. */
    enum Dialect {
        /** Whatever the fields say; no provider limits. */
        GENERIC,
        /**
         * Microsoft 365 (smtp.office365.com): EHLO offers AUTH LOGIN XOAUTH2 and no PLAIN; a 4th
         * authenticated connection of one mailbox is answered {@link #MS_CONCURRENCY}.
         */
        MICROSOFT,
        /**
         * Google (smtp.gmail.com, smtp-relay.gmail.com): AUTH PLAIN XOAUTH2; a RCPT beyond the 100th
         * of a transaction is answered {@link #GOOGLE_TOO_MANY_RECIPIENTS}.
         */
        GOOGLE
    }

    /** Microsoft's answer to a 4th concurrent connection of one mailbox. */
    String MS_CONCURRENCY = "432 4.3.2 Concurrent connections limit exceeded. Visit"
            + " https://aka.ms/concurrent_sending for more information. [Hostname=AM0PR01MB0001.eurprd01.prod.outlook.com]";
    /** Microsoft with SMTP AUTH switched off for the tenant or mailbox (script it at "AUTH"). */
    String MS_AUTH_DISABLED = "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication"
            + " is disabled for the Tenant. Visit https://aka.ms/smtp_auth_disabled for more information.";
    /** Google's answer to a RCPT beyond the transaction's 100th. */
    String GOOGLE_TOO_MANY_RECIPIENTS = "452 4.5.3 Your message has too many recipients."
            + " For more information regarding Google's sending limits, visit"
            + " https://support.google.com/mail/?p=TooManyRecipientsError";
    /** Google's temporary throttle (script it at "MAIL" or "RCPT"). */
    String GOOGLE_PEAK = "450 4.2.1 Peak SMTP relay limit exceeded for customer."
            + " To learn more about SMTP relay sending limits please contact your administrator";
    /** Google's daily quota, answered with a 5xx (script it at "MAIL" or "RCPT"). */
    String GOOGLE_DAILY = "550 5.4.5 Daily SMTP relay limit exceeded for user."
            + " For more information on SMTP relay sending limits please contact your administrator";

    /**
     * Microsoft's continuous-error throttle: {@code 550 5.2.25x} with {@code x} from 1 to 5
     * (script it at "MAIL"; retrying extends it). Reached as {@link FakeEsp#msSenderThrottled}.
     */
    static String msSenderThrottled(int x) {
        if (x < 1 || x > 5) {
            throw new IllegalArgumentException("5.2.251 to 5.2.255: " + x);
        }
        return "550 5.2.25" + x + " Sender throttled due to continuous " + (x == 1 ? "invalid recipients errors"
                : "send errors") + ". Visit https://aka.ms/continuouserrorthrottling for more information.";
    }
}
