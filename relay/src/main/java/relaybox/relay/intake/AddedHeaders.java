package relaybox.relay.intake;

import relaybox.queue.QueueId;

import java.time.ZonedDateTime;
import java.time.format.DateTimeFormatter;
import java.util.List;
import java.util.Locale;

/**
 * Owns the header lines the intake puts above the client's bytes (which are never rewritten): a
 * {@code Received:} trace line, and {@code Date:} and {@code Message-ID:} when the client left
 * them out, because ESPs refuse mail without them. Each line ends in CRLF; long lines are folded.
 */
final class AddedHeaders {

    static final DateTimeFormatter RFC5322 =
            DateTimeFormatter.ofPattern("EEE, d MMM yyyy HH:mm:ss Z", Locale.ROOT);

    private AddedHeaders() {
    }

    /**
     * @param protocol "ESMTP", "ESMTPS", "ESMTPSA", "UTF8SMTPS"... (RFC 3848, RFC 6531)
     */
    static String build(QueueId id, String hostname, String helo, String clientAddress, String protocol,
                        List<String> recipients, boolean hasDate, boolean hasMessageId, ZonedDateTime now) {
        String date = RFC5322.format(now);
        StringBuilder b = new StringBuilder(256);
        b.append("Received: from ").append(ascii(clean(helo.isEmpty() ? "unknown" : helo)))
                .append(" ([").append(clientAddress).append("])\r\n")
                .append("\tby ").append(hostname).append(" (relaybox) with ").append(protocol)
                .append(" id ").append(id).append("\r\n");
        if (recipients.size() == 1) {
            b.append("\tfor <").append(clean(recipients.get(0))).append(">");
        } else {
            b.append("\t");
        }
        b.append("; ").append(date).append("\r\n");
        if (!hasDate) {
            b.append("Date: ").append(date).append("\r\n");
        }
        if (!hasMessageId) {
            b.append("Message-ID: <").append(id).append('@').append(hostname).append(">\r\n");
        }
        return b.toString();
    }

    /**
     * The header lines for a message taken from the drop directory: a {@code Received:} line that
     * names the submitting user's uid (the owner of the file, set by the kernel, so the one thing
     * in a drop file its writer cannot forge), as Postfix's pickup does ("from userid 1000").
     */
    static String buildLocal(QueueId id, String hostname, int uid, List<String> recipients, boolean hasDate,
                             boolean hasMessageId, ZonedDateTime now) {
        String date = RFC5322.format(now);
        StringBuilder b = new StringBuilder(256);
        b.append("Received: by ").append(hostname).append(" (relaybox, from userid ").append(uid).append(")\r\n")
                .append("\tid ").append(id);
        if (recipients.size() == 1) {
            b.append("\r\n\tfor <").append(clean(recipients.get(0))).append(">");
        }
        b.append("; ").append(date).append("\r\n");
        if (!hasDate) {
            b.append("Date: ").append(date).append("\r\n");
        }
        if (!hasMessageId) {
            b.append("Message-ID: <").append(id).append('@').append(hostname).append(">\r\n");
        }
        return b.toString();
    }

    /** The "with" protocol name: SMTP for HELO, ESMTP plus S for TLS and A for AUTH; UTF8 for SMTPUTF8. */
    static String protocol(boolean ehlo, boolean tls, boolean auth, boolean smtputf8) {
        String base = smtputf8 ? "UTF8SMTP" : ehlo ? "ESMTP" : "SMTP";
        if (smtputf8 || ehlo) {
            return base + (tls ? "S" : "") + (auth ? "A" : "");
        }
        return base;
    }

    /** A HELO name is a domain or an address literal: anything else shows as '?'. */
    private static String ascii(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            b.append(c < 0x80 ? c : '?');
        }
        return b.toString();
    }

    /** Client-supplied text inside our header: no line breaks or controls, bounded length. */
    private static String clean(String s) {
        StringBuilder b = new StringBuilder(Math.min(s.length(), 200));
        for (int i = 0; i < s.length() && b.length() < 200; i++) {
            char c = s.charAt(i);
            b.append(c < 0x20 || c == 0x7f || c == '(' || c == ')' || c == ';' ? '?' : c);
        }
        return b.toString();
    }
}
