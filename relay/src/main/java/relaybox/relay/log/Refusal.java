package relaybox.relay.log;

import java.util.Locale;

/**
 * Why the intake refused a command or a message, decided where it refuses and carried with the
 * event, so the metrics never read it back out of the reply. Its {@link #label()} is the
 * {@code reason} label of {@code relaybox_messages_refused_total}.
 */
public enum Refusal {
    /** RCPT from a client that may not relay. */
    RELAY_DENIED,
    /** The message is larger than the SIZE limit. */
    SIZE,
    /** The queue's disk, or the intake's header memory, has no room now (452 4.3.1). */
    STORAGE_FULL,
    /** Any other storage failure (451 4.3.0). */
    STORAGE_ERROR,
    /** Input that can never be taken as sent (bare CR or LF). */
    BAD_INPUT,
    /** Authentication was required or failed. */
    AUTH,
    /** The message could not be signed (for good: 550; for now: 451). */
    SIGNING;

    public String label() {
        return name().toLowerCase(Locale.ROOT);
    }
}
