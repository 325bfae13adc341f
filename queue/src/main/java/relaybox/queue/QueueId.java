package relaybox.queue;

import java.security.SecureRandom;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Owns the queue id: a 12-character Crockford base32 name, unique per message, that sorts by
 * time of creation. Forty bits of milliseconds since 2024-01-01 (good for 34 years) are followed
 * by a 20-bit counter that starts at a random value, so two ids made in the same millisecond in
 * one process never collide and ids made after a restart are later in time.
 */
public record QueueId(String value) implements Comparable<QueueId> {

    private static final String ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    private static final long EPOCH_MS = Instant.parse("2024-01-01T00:00:00Z").toEpochMilli();
    private static final AtomicLong COUNTER = new AtomicLong(new SecureRandom().nextInt(1 << 20));

    public QueueId {
        if (!isValid(value)) {
            throw new IllegalArgumentException("not a queue id: \"" + value + "\"");
        }
    }

    /** A new id for a message received now. */
    public static QueueId next(Instant now) {
        long ms = (now.toEpochMilli() - EPOCH_MS) & ((1L << 40) - 1);
        long bits = (ms << 20) | (COUNTER.getAndIncrement() & ((1L << 20) - 1));
        char[] out = new char[12];
        for (int i = 11; i >= 0; i--) {
            out[i] = ALPHABET.charAt((int) (bits & 31));
            bits >>>= 5;
        }
        return new QueueId(new String(out));
    }

    /** Parses operator input (admin CLI), which may be in lower case. */
    public static QueueId parse(String text) {
        return new QueueId(text.trim().toUpperCase(java.util.Locale.ROOT));
    }

    public static boolean isValid(String s) {
        if (s == null || s.length() != 12) {
            return false;
        }
        for (int i = 0; i < s.length(); i++) {
            if (ALPHABET.indexOf(s.charAt(i)) < 0) {
                return false;
            }
        }
        return true;
    }

    @Override
    public int compareTo(QueueId o) {
        return value.compareTo(o.value);
    }

    @Override
    public String toString() {
        return value;
    }
}
