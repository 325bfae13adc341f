package relaybox.relay.config;

import java.io.IOException;
import java.net.InetAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * The settings that make relaybox the host's mail transport agent: how bare local names
 * ({@code root}, {@code www-data}) are qualified and aliased, how bare line feeds from trusted
 * clients are treated, and where {@code sendmail} drops mail while the daemon is down.
 *
 * @param localDomain  local_domain: qualifies bare names in the envelope and in From:/To:/Cc:;
 *                     "" in the file means /etc/mailname, else the host's fully qualified name
 * @param aliases      [aliases]: local name (or "*" for any other local name) to one or more
 *                     addresses, applied to recipients at local_domain or localhost before queueing
 * @param bareNewline  intake_bare_newline: what a bare LF in DATA from a trusted client gets
 * @param dropDir      drop_dir: where sendmail writes mail when the daemon cannot be reached
 * @param dropPoll     drop_poll_interval: how often the daemon looks into drop_dir
 */
public record LocalMailConfig(String localDomain, Map<String, List<String>> aliases, BareNewline bareNewline,
                              Path dropDir, Duration dropPoll) {

    /** What a bare LF in message data from a trusted client (intake_networks, or authenticated) gets. */
    public enum BareNewline {
        /** Refused with 550 5.6.0 and the connection closed (Postfix smtpd_forbid_bare_newline = reject). */
        REJECT,
        /** Stored as CRLF; never a line start for the end of data (Postfix's normalize). */
        NORMALIZE
    }

    public static final String DEFAULT_LOCAL_DOMAIN = "";
    public static final String DEFAULT_BARE_NEWLINE = "normalize";
    public static final Path DEFAULT_DROP_DIR = Path.of("/var/spool/relaybox/maildrop");
    public static final Duration DEFAULT_DROP_POLL = Duration.ofSeconds(1);
    /** A name as Postfix's aliases(5) allows it on the left, lower case; "*" is the catch-all. */
    private static final Pattern ALIAS_NAME = Pattern.compile("\\*|[a-z0-9._+-][a-z0-9._+=-]*");
    private static final Pattern DOMAIN = Pattern.compile("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?");

    public LocalMailConfig {
        aliases = Map.copyOf(aliases);
    }

    public static LocalMailConfig from(ConfigReader r) throws ConfigException {
        String domain = r.string("local_domain", DEFAULT_LOCAL_DOMAIN).trim();
        if (domain.isEmpty()) {
            domain = hostDomain();
        } else if (!DOMAIN.matcher(domain).matches() || domain.contains("..")) {
            throw r.error("local_domain", "expected a domain like \"host.example.com\"", domain);
        }
        Map<String, List<String>> aliases = new LinkedHashMap<>();
        for (Map.Entry<String, List<String>> e : r.stringMap("aliases").entrySet()) {
            String name = e.getKey().toLowerCase(Locale.ROOT);
            if (!ALIAS_NAME.matcher(name).matches()) {
                throw r.error("aliases", "expected a local name like root or \"*\" on the left", e.getKey());
            }
            if (e.getValue().isEmpty()) {
                throw r.error("aliases", "needs at least one address for " + e.getKey(), e.getValue());
            }
            for (String a : e.getValue()) {
                String t = a.trim();
                if (t.isEmpty() || t.contains(" ") || t.contains(",") || t.contains("<") || t.startsWith("@")
                        || t.endsWith("@")) {
                    throw r.error("aliases", "expected addresses like \"admin@example.com\" or local names for "
                            + e.getKey(), a);
                }
            }
            aliases.put(name, e.getValue().stream().map(String::trim).toList());
        }
        String bare = r.choice("intake_bare_newline", DEFAULT_BARE_NEWLINE, "normalize", "reject");
        Path drop = r.path("drop_dir", DEFAULT_DROP_DIR);
        Duration poll = r.duration("drop_poll_interval", DEFAULT_DROP_POLL);
        if (poll.isZero() || poll.compareTo(Duration.ofMinutes(1)) > 0) {
            throw r.error("drop_poll_interval", "expected more than 0s and at most 1m", poll);
        }
        return new LocalMailConfig(domain.toLowerCase(Locale.ROOT), aliases,
                BareNewline.valueOf(bare.toUpperCase(Locale.ROOT)), drop, poll);
    }

    public static LocalMailConfig defaults() {
        try {
            return from(ConfigReader.empty());
        } catch (ConfigException e) {
            throw new IllegalStateException("built-in local mail defaults are invalid", e);
        }
    }

    /** Debian's mail name (/etc/mailname), else the host's fully qualified name, else "localhost". */
    static String hostDomain() {
        try {
            String s = Files.readString(Path.of("/etc/mailname"), StandardCharsets.ISO_8859_1).strip();
            String first = s.lines().findFirst().orElse("").strip();
            if (DOMAIN.matcher(first).matches()) {
                return first;
            }
        } catch (IOException | RuntimeException e) {
            // No mail name: fall back to the host's own name.
        }
        try {
            InetAddress self = InetAddress.getLocalHost();
            String canonical = self.getCanonicalHostName();
            if (canonical.contains(".") && DOMAIN.matcher(canonical).matches()
                    && !canonical.equals(self.getHostAddress())) {
                return canonical;
            }
            return self.getHostName();
        } catch (IOException e) {
            return "localhost";
        }
    }
}
