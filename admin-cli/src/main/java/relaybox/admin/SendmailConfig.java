package relaybox.admin;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;

/**
 * Where sendmail finds the local daemon: the intake address it submits to and the drop
 * directory it writes to when the daemon is down, each from the command line, else the
 * environment, else the config file, else the default. Owns that lookup only; the config file
 * is scanned by {@link ConfigPeek} for the two keys, not parsed as a whole (no TOML library on
 * this path: JVM start-up is sendmail's whole cost).
 */
final class SendmailConfig {

    static final String SMTP_ENV = "RELAYBOX_SMTP";
    static final String DEFAULT_SMTP = "127.0.0.1:25";
    static final String DROP_ENV = "RELAYBOX_DROP_DIR";
    static final Path DEFAULT_DROP_DIR = Path.of("/var/spool/relaybox/maildrop");

    private SendmailConfig() {
    }

    /**
     * Whether the caller named the intake (--smtp, $RELAYBOX_SMTP): then sendmail submits over
     * SMTP first, so that the daemon's refusals reach it as exit codes; otherwise the drop
     * directory comes first (see {@link Submitter}).
     */
    static boolean smtpGiven(SendmailOptions o, Map<String, String> env) {
        String e = env.get(SMTP_ENV);
        return o.smtp != null || (e != null && !e.isBlank());
    }

    /** --smtp, else $RELAYBOX_SMTP, else the config's first intake_listen, else 127.0.0.1:25. */
    static String target(SendmailOptions o, Map<String, String> env, Path defaultConfig) throws IOException {
        if (o.smtp != null) {
            return o.smtp;
        }
        String e = env.get(SMTP_ENV);
        if (e != null && !e.isBlank()) {
            return e.trim();
        }
        Path file = o.config != null ? o.config : defaultConfig;
        if (!Files.exists(file)) {
            if (o.config != null) {
                throw new IOException("config file " + file + " does not exist");
            }
            return DEFAULT_SMTP;
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException ex) {
            throw new IOException("cannot read " + file + " to find the intake address (" + ex.getMessage()
                    + "); make it readable or set " + SMTP_ENV);
        }
        return firstListen(text).orElse(DEFAULT_SMTP);
    }

    /** --drop-dir, else $RELAYBOX_DROP_DIR, else the config's drop_dir, else the default. */
    static Path dropDir(SendmailOptions o, Map<String, String> env, Path defaultConfig) {
        if (o.dropDir != null) {
            return o.dropDir;
        }
        String e = env.get(DROP_ENV);
        if (e != null && !e.isBlank()) {
            return Path.of(e.trim());
        }
        Path file = o.config != null ? o.config : defaultConfig;
        try {
            String d = ConfigPeek.topLevelString(Files.readString(file, StandardCharsets.UTF_8), "drop_dir", false);
            if (d != null && !d.isBlank()) {
                return Path.of(d);
            }
        } catch (IOException | RuntimeException e2) {
            // No readable config: the default.
        }
        return DEFAULT_DROP_DIR;
    }

    /**
     * The first address of the top-level {@code intake_listen} key. A deliberately small scan
     * instead of a TOML parser, to keep this path's start-up short; SendmailTest checks it
     * against ConfigReader on the shipped file.
     */
    static Optional<String> firstListen(String toml) {
        return Optional.ofNullable(ConfigPeek.topLevelString(toml, "intake_listen", true));
    }

    /** A wildcard listen address is reached on loopback. */
    static String host(String hostPort) {
        int c = hostPort.lastIndexOf(':');
        String h = c < 0 ? hostPort : hostPort.substring(0, c);
        if (h.startsWith("[") && h.endsWith("]")) {
            h = h.substring(1, h.length() - 1);
        }
        return switch (h) {
            case "", "0.0.0.0", "*" -> "127.0.0.1";
            case "::" -> "::1";
            default -> h;
        };
    }

    static int port(String hostPort) {
        int c = hostPort.lastIndexOf(':');
        try {
            return c < 0 ? 25 : Integer.parseInt(hostPort.substring(c + 1));
        } catch (NumberFormatException e) {
            return 25;
        }
    }
}
