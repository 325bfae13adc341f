package relaybox.queue;

import java.util.List;
import java.util.Objects;

/**
 * Owns what the SMTP client told us about a message apart from its bytes: the reverse-path, the
 * recipients and the ESMTP parameters that must travel with it to the upstream, plus where it
 * came from (for the log and the admin CLI). Immutable.
 *
 * @param sender     reverse-path without angle brackets; "" is the null sender (bounces)
 * @param recipients forward-paths without angle brackets, in the order given, never empty
 * @param smtputf8   the client asked for SMTPUTF8 (RFC 6531); the upstream must offer it too
 * @param eightBit   the client declared BODY=8BITMIME
 * @param client     client address as text, e.g. "127.0.0.1"
 * @param helo       the name the client gave in EHLO/HELO
 * @param authUser   the authenticated user name, or "" when the client did not authenticate
 */
public record Envelope(String sender, List<String> recipients, boolean smtputf8, boolean eightBit,
                       String client, String helo, String authUser) {

    public Envelope {
        Objects.requireNonNull(sender, "sender");
        recipients = List.copyOf(recipients);
        if (recipients.isEmpty()) {
            throw new IllegalArgumentException("an envelope needs at least one recipient");
        }
        Objects.requireNonNull(client, "client");
        Objects.requireNonNull(helo, "helo");
        Objects.requireNonNull(authUser, "authUser");
    }

    /** A plain envelope, for tools and tests. */
    public static Envelope of(String sender, List<String> recipients) {
        return new Envelope(sender, recipients, false, false, "127.0.0.1", "localhost", "");
    }

    public boolean isNullSender() {
        return sender.isEmpty();
    }
}
