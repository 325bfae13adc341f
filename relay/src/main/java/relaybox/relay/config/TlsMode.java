package relaybox.relay.config;

import java.util.Arrays;
import java.util.Locale;

/**
 * Owns the meaning of an upstream's {@code tls} key: parsed once at config load, so the rest of
 * the relay compares an enum, never the text.
 */
public enum TlsMode {
    /** Plain connection, then STARTTLS before anything else (port 587); required, never optional. */
    STARTTLS("starttls", 587),
    /** Implicit TLS from the first byte (port 465). */
    TLS("tls", 465),
    /** No TLS at all; only when set explicitly. */
    NONE("none", 25);

    private final String word;
    private final int defaultPort;

    TlsMode(String word, int defaultPort) {
        this.word = word;
        this.defaultPort = defaultPort;
    }

    /** The config word ("starttls", "tls", "none"). */
    public String word() {
        return word;
    }

    /** The port used when none is configured. */
    public int defaultPort() {
        return defaultPort;
    }

    /** True when the connection is encrypted before AUTH or mail is sent. */
    public boolean encrypts() {
        return this != NONE;
    }

    /** The config words, for error messages. */
    static String[] words() {
        return Arrays.stream(values()).map(TlsMode::word).toArray(String[]::new);
    }

    /** The mode named {@code word}; throws for anything else. */
    public static TlsMode parse(String word) {
        for (TlsMode m : values()) {
            if (m.word.equals(word.toLowerCase(Locale.ROOT))) {
                return m;
            }
        }
        throw new IllegalArgumentException("expected one of " + String.join(", ", words()) + ": " + word);
    }

    @Override
    public String toString() {
        return word;
    }
}
