package relaybox.relay.config;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * One {@code [[upstream]]} table: where and how the forwarder delivers. The list's order is the
 * failover order. Every key is documented with its default in etc/relaybox.conf.
 *
 * @param name                  name: how logs and the admin CLI refer to it (default "upstream-N")
 * @param type                  type: "smtp" (an ESP or smart host) or "outbox" (.eml files, for development)
 * @param host                  host: the smart host's name; also the name its certificate must carry
 * @param port                  port: default 587 for starttls, 465 for tls, 25 for none
 * @param tls                   tls: "starttls" (default), "tls" (implicit, port 465) or "none" (explicit only)
 * @param caFile                ca_file: PEM file of trusted CA certificates instead of the system trust store
 * @param authFile              auth_file: secrets file with username= and password= lines, or none
 * @param dir                   dir: where an outbox upstream writes its .eml files
 * @param messagesPerConnection messages_per_connection: retire a connection after this many messages
 * @param maxConnections        max_connections: concurrent connections to this upstream
 * @param ratePerSecond         rate_per_second: messages per second (token bucket), 0 for no limit
 * @param headers               headers: header lines ("Name: value") sent above each message
 * @param envelopeSender        envelope_sender: replaces the MAIL FROM reverse-path (not the null sender), or ""
 * @param temporaryReplies      temporary_replies: "CODE [text]" rules that make a reply temporary
 * @param senderDomains         sender_domains: route mail from these sender domains here; empty = default route
 */
public record UpstreamConfig(String name, String type, String host, int port, String tls, Path caFile,
                             Path authFile, Path dir, int messagesPerConnection, int maxConnections,
                             double ratePerSecond, List<String> headers, String envelopeSender,
                             List<String> temporaryReplies, List<String> senderDomains) {

    public static final String DEFAULT_TYPE = "smtp";
    public static final String DEFAULT_TLS = "starttls";
    public static final int DEFAULT_MESSAGES_PER_CONNECTION = 100;
    public static final int DEFAULT_MAX_CONNECTIONS = 4;
    public static final double DEFAULT_RATE_PER_SECOND = 0;
    public static final Path DEFAULT_OUTBOX_DIR = Path.of("/var/lib/relaybox/outbox");

    public UpstreamConfig {
        headers = List.copyOf(headers);
        temporaryReplies = List.copyOf(temporaryReplies);
        senderDomains = List.copyOf(senderDomains);
    }

    public boolean isOutbox() {
        return "outbox".equals(type);
    }

    /** An outbox upstream writing into {@code dir}: the default of {@code relaybox run --dev}. */
    public static UpstreamConfig outbox(Path dir) {
        return new UpstreamConfig("outbox", "outbox", "", 0, "none", null, null, dir,
                DEFAULT_MESSAGES_PER_CONNECTION, 1, 0, List.of(), "", List.of(), List.of());
    }

    /** A plain SMTP upstream with defaults, for tests and tools. */
    public static UpstreamConfig smtp(String name, String host, int port, String tls) {
        return new UpstreamConfig(name, "smtp", host, port, tls, null, null, null, DEFAULT_MESSAGES_PER_CONNECTION,
                DEFAULT_MAX_CONNECTIONS, 0, List.of(), "", List.of(), List.of());
    }

    /**
     * A loopback host: "localhost" (RFC 6761 reserves it for loopback) or a literal loopback
     * address, 127.0.0.0/8 or ::1. Only literals are parsed, never looked up, so a name such as
     * "127.0.0.1.evil.example" is not one.
     */
    static boolean isLoopback(String host) {
        String h = host.startsWith("[") && host.endsWith("]") ? host.substring(1, host.length() - 1) : host;
        if (h.equalsIgnoreCase("localhost")) {
            return true;
        }
        java.net.InetAddress a = io.netty.util.NetUtil.createInetAddressFromIpAddressString(h);
        return a != null && a.isLoopbackAddress();
    }

    static UpstreamConfig from(ConfigReader r, int index) throws ConfigException {
        String name = r.string("name", "upstream-" + (index + 1));
        String type = r.choice("type", DEFAULT_TYPE, "smtp", "outbox");
        String host = r.string("host", "");
        String tls = r.choice("tls", DEFAULT_TLS, "starttls", "tls", "none");
        int defPort = switch (tls) {
            case "tls" -> 465;
            case "none" -> 25;
            default -> 587;
        };
        int port = (int) r.integer("port", defPort, 1, 65535);
        Path ca = r.path("ca_file", null);
        Path auth = r.path("auth_file", null);
        Path dir = r.path("dir", DEFAULT_OUTBOX_DIR);
        int perConn = (int) r.integer("messages_per_connection", DEFAULT_MESSAGES_PER_CONNECTION, 1, 1_000_000);
        int maxConn = (int) r.integer("max_connections", DEFAULT_MAX_CONNECTIONS, 1, 1000);
        double rate = r.decimal("rate_per_second", DEFAULT_RATE_PER_SECOND, 0, 1_000_000);
        List<String> headers = r.stringList("headers", List.of());
        for (String h : headers) {
            int colon = h.indexOf(':');
            if (colon <= 0 || h.contains("\r") || h.contains("\n") || h.substring(0, colon).contains(" ")) {
                throw r.error("headers", "expected header lines like \"X-SES-CONFIGURATION-SET: marketing\"", h);
            }
        }
        String sender = r.string("envelope_sender", "");
        if (!sender.isEmpty() && (!sender.contains("@") || sender.contains("<") || sender.contains(" "))) {
            throw r.error("envelope_sender", "expected an address like bounces@example.com", sender);
        }
        List<String> rules = r.stringList("temporary_replies", List.of());
        for (String rule : rules) {
            try {
                relaybox.relay.forward.ReplyRule.parse(rule);
            } catch (IllegalArgumentException e) {
                throw r.error("temporary_replies", e.getMessage(), rule);
            }
        }
        List<String> domains = new ArrayList<>();
        for (String d : r.stringList("sender_domains", List.of())) {
            domains.add(d.toLowerCase(Locale.ROOT));
        }
        if (type.equals("smtp") && host.isBlank()) {
            throw r.error("host", "an smtp upstream needs the smart host's name", host);
        }
        if (auth != null && tls.equals("none") && !isLoopback(host)) {
            // Credentials are never sent in clear over a network; only a local tunnel may take them.
            throw r.error("auth_file", "credentials are never sent without TLS: set tls = \"starttls\" or \"tls\""
                    + " (tls = \"none\" with AUTH is allowed only for a loopback host)", auth);
        }
        return new UpstreamConfig(name, type, host, port, tls, ca, auth, dir, perConn, maxConn, rate, headers,
                sender, rules, domains);
    }
}
