package relaybox.relay.config;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Owns the written forms of configuration values: parsing durations ("30s") and sizes ("25MiB"),
 * and writing values back as TOML literals for {@code config show}. Pure functions, no state.
 */
final class ConfigLiterals {

    private static final Pattern DURATION = Pattern.compile("(\\d+)(ms|s|m|h|d)");
    private static final Pattern SIZE = Pattern.compile("(\\d+)\\s*(B|KiB|MiB|GiB|k|K|M|G)?");

    private ConfigLiterals() {
    }

    /** A duration written as "500ms", "30s", "5m", "2h" or "5d"; empty for anything else. */
    static Optional<Duration> parseDuration(String text) {
        Matcher m = DURATION.matcher(text.trim());
        if (!m.matches()) {
            return Optional.empty();
        }
        try {
            long v = Long.parseLong(m.group(1));
            Duration d = switch (m.group(2)) {
                case "ms" -> Duration.ofMillis(v);
                case "s" -> Duration.ofSeconds(v);
                case "m" -> Duration.ofMinutes(v);
                case "h" -> Duration.ofHours(v);
                default -> Duration.ofDays(v);
            };
            d.toMillis();   // every user works in milliseconds: more than that overflows (fuzzer-found)
            return Optional.of(d);
        } catch (NumberFormatException | ArithmeticException e) {
            return Optional.empty();   // too many digits for any duration: a bad value
        }
    }

    /**
     * A size written as "512KiB", "25MiB", "1GiB" or a number of bytes, in bytes. Throws with
     * the reason ("size too large", or the expected form) for the reader's error message.
     */
    static long parseSize(String text) {
        Matcher m = SIZE.matcher(text.trim());
        if (!m.matches()) {
            throw new IllegalArgumentException("expected a size like \"25MiB\" or a number of bytes");
        }
        String unit = m.group(2) == null ? "B" : m.group(2);
        int shift = switch (unit) {
            case "KiB", "k", "K" -> 10;
            case "MiB", "M" -> 20;
            case "GiB", "G" -> 30;
            default -> 0;
        };
        // Found by ConfigFuzzTest: too many digits threw NumberFormatException (a stack trace
        // instead of exit 78), and a large count of GiB wrapped around to a negative size.
        long v;
        try {
            v = Long.parseLong(m.group(1));
        } catch (NumberFormatException e) {
            throw new IllegalArgumentException("size too large");
        }
        if (v > (Long.MAX_VALUE >> shift)) {
            throw new IllegalArgumentException("size too large");
        }
        return v << shift;
    }

    /** The shortest exact form: "90s" rather than "1m30s", "5d" for five days. */
    static String formatDuration(Duration d) {
        long ms = d.toMillis();
        if (ms % 1000 != 0) {
            return ms + "ms";
        }
        long s = ms / 1000;
        if (s != 0 && s % 86400 == 0) {
            return s / 86400 + "d";
        }
        if (s != 0 && s % 3600 == 0) {
            return s / 3600 + "h";
        }
        if (s != 0 && s % 60 == 0) {
            return s / 60 + "m";
        }
        return s + "s";
    }

    static String quote(String s) {
        return '"' + s.replace("\\", "\\\\").replace("\"", "\\\"") + '"';
    }

    static String list(List<String> items) {
        StringBuilder b = new StringBuilder("[");
        for (String i : items) {
            b.append(b.length() > 1 ? ", " : "").append(quote(i));
        }
        return b.append(']').toString();
    }

    /** A value of the wrong form inside a table, with the offending part. */
    static final class BadValue extends IllegalArgumentException {
        final transient com.fasterxml.jackson.databind.JsonNode got;

        BadValue(String what, com.fasterxml.jackson.databind.JsonNode got) {
            super(what);
            this.got = got;
        }
    }

    /** A table of names to a string or a list of strings (such as [aliases]), in the file's order. */
    static Map<String, List<String>> stringMap(com.fasterxml.jackson.databind.JsonNode n) {
        Map<String, List<String>> out = new LinkedHashMap<>();
        for (Iterator<Map.Entry<String, com.fasterxml.jackson.databind.JsonNode>> it = n.fields(); it.hasNext(); ) {
            Map.Entry<String, com.fasterxml.jackson.databind.JsonNode> e = it.next();
            List<String> values = new ArrayList<>();
            if (e.getValue().isTextual()) {
                values.add(e.getValue().asText());
            } else if (e.getValue().isArray()) {
                for (com.fasterxml.jackson.databind.JsonNode v : e.getValue()) {
                    if (!v.isTextual()) {
                        throw new BadValue("expected a string or a list of strings for " + e.getKey(), e.getValue());
                    }
                    values.add(v.asText());
                }
            } else {
                throw new BadValue("expected a string or a list of strings for " + e.getKey(), e.getValue());
            }
            out.put(e.getKey(), List.copyOf(values));
        }
        return out;
    }

    /** An inline TOML table literal of {@link #stringMap}'s result. */
    static String mapLiteral(Map<String, List<String>> map) {
        if (map.isEmpty()) {
            return "{}";
        }
        StringBuilder literal = new StringBuilder("{ ");
        map.forEach((k, v) -> literal.append(literal.length() > 2 ? ", " : "").append(quote(k)).append(" = ")
                .append(list(v)));
        return literal.append(" }").toString();
    }
}
