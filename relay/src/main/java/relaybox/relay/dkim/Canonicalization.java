package relaybox.relay.dkim;

/**
 * RFC 6376 §3.4 canonicalisation of header fields; bodies are done by {@link BodyHasher}, which
 * streams. Header text is handled as ISO-8859-1 strings so every byte maps to one char and 8-bit
 * (SMTPUTF8) headers pass through byte for byte.
 */
public enum Canonicalization {
    SIMPLE, RELAXED;

    public String tag() {
        return this == SIMPLE ? "simple" : "relaxed";
    }

    public static Canonicalization byName(String s) {
        return switch (s) {
            case "simple" -> SIMPLE;
            case "relaxed" -> RELAXED;
            default -> throw new IllegalArgumentException("unknown canonicalization: " + s);
        };
    }

    /**
     * One header field, as it appears in the message (name, colon, value, folding, final CRLF),
     * canonicalised and ending in CRLF.
     */
    public String header(String field) {
        if (this == SIMPLE) {
            return field.endsWith("\r\n") ? field : field + "\r\n";
        }
        int colon = field.indexOf(':');
        if (colon < 0) {
            return relaxedValue(field) + "\r\n";
        }
        String name = asciiLower(field.substring(0, colon)).stripTrailing();
        return name + ":" + relaxedValue(field.substring(colon + 1)) + "\r\n";
    }

    /** Unfolds, turns every run of SP/HTAB into one SP, and drops leading and trailing WSP. */
    private static String relaxedValue(String v) {
        StringBuilder b = new StringBuilder(v.length());
        boolean wsp = false;
        for (int i = 0; i < v.length(); i++) {
            char c = v.charAt(i);
            if (c == '\r' || c == '\n') {
                continue; // unfolding: CRLF inside a field is always followed by WSP
            }
            if (c == ' ' || c == '\t') {
                wsp = true;
                continue;
            }
            if (wsp && b.length() > 0) {
                b.append(' ');
            }
            wsp = false;
            b.append(c);
        }
        return b.toString();
    }

    static String asciiLower(String s) {
        char[] cs = s.toCharArray();
        for (int i = 0; i < cs.length; i++) {
            if (cs[i] >= 'A' && cs[i] <= 'Z') {
                cs[i] += 'a' - 'A';
            }
        }
        return new String(cs);
    }
}
