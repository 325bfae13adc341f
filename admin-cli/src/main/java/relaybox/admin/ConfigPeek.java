package relaybox.admin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;

/**
 * Reads one top-level string of the config file without the config library: what sendmail (the
 * intake address, the drop directory) and the client commands (the control socket) need to
 * find the daemon. Parsing the file with the TOML mapper loaded some 400 Jackson classes and
 * took longer than the rest of a {@code relaybox queue list}; checking the file is
 * {@code relaybox config check}'s job and the daemon's. SendmailTest and ClientOptionsTest
 * compare what this finds with the config reader on the shipped file.
 */
final class ConfigPeek {

    private ConfigPeek() {
    }

    /** The file's text; IOException says in plain words why it cannot be read. */
    static String read(Path file) throws IOException {
        try {
            return Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            throw new IOException(file + ": cannot read the configuration: no such file");
        } catch (AccessDeniedException e) {
            throw new IOException(file + ": cannot read the configuration: permission denied (running as "
                    + System.getProperty("user.name") + ")");
        }
    }

    /**
     * The first string of a top-level key ({@code key = "v"}, or {@code key = ["v", ...]} when
     * {@code array}), or null. Top-level keys end at the first [table] or [[array]] header. Written
     * out rather than as regular expressions: compiling those cost this start-up path measurably.
     */
    static String topLevelString(String toml, String key, boolean array) {
        return find(toml, key, array, false);
    }

    /**
     * The top-level string {@code key} ({@code key = "v"}), or null when the key is absent.
     *
     * @throws IllegalArgumentException when the key is there with something other than a string
     */
    static String requiredString(String toml, String key) {
        return find(toml, key, false, true);
    }

    private static String find(String toml, String key, boolean array, boolean strict) {
        int i = 0;
        int n = toml.length();
        while (i < n) {
            int end = toml.indexOf('\n', i);
            if (end < 0) {
                end = n;
            }
            int p = skipBlanks(toml, i, end);
            if (p < end && toml.charAt(p) == '[') {
                return null;
            }
            if (toml.startsWith(key, p)) {
                int q = skipBlanks(toml, p + key.length(), end);
                if (q < end && toml.charAt(q) == '=') {
                    q = skipBlanks(toml, q + 1, end);
                    if (array) {
                        if (q >= end || toml.charAt(q) != '[') {
                            return notAString(key, strict);
                        }
                        q++;
                        while (q < n && Character.isWhitespace(toml.charAt(q))) {
                            q++;
                        }
                    }
                    // A basic ("...") or a literal ('...') string; escapes are not expected in paths.
                    char quote = q < n ? toml.charAt(q) : 0;
                    if (quote == '"' || quote == '\'') {
                        int close = toml.indexOf(quote, q + 1);
                        int nl = toml.indexOf('\n', q + 1);
                        if (close > 0 && (nl < 0 || close < nl)) {
                            return toml.substring(q + 1, close);
                        }
                    }
                    return notAString(key, strict);
                }
            }
            i = end + 1;
        }
        return null;
    }

    private static String notAString(String key, boolean strict) {
        if (strict) {
            throw new IllegalArgumentException(key + ": expected a string in quotes");
        }
        return null;
    }

    private static int skipBlanks(String s, int from, int end) {
        while (from < end && (s.charAt(from) == ' ' || s.charAt(from) == '\t')) {
            from++;
        }
        return from;
    }
}
