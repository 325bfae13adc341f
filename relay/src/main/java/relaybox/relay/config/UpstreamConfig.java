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
 * @param authMechanism         auth_mechanism: the one AUTH mechanism to use, or AUTO
 * @param oauth                 oauth_*: where XOAUTH2 access tokens come from; null without oauth_provider
 * @param logins                [[upstream.login]]: more logins on this host, picked by envelope sender
 * @param fromRewrite           from_rewrite: the verified identity written into the header From:, or ""
 * @param maxRecipients         max_recipients: recipients per transaction (more go in further transactions),
 *                              0 for no limit of ours (the upstream's LIMITS RCPTMAX still applies)
 * @param provider              the provider dialect named by preset (GENERIC without one)
 */
public record UpstreamConfig(String name, String type, String host, int port, TlsMode tls, Path caFile,
                             Path authFile, Path dir, int messagesPerConnection, int maxConnections,
                             double ratePerSecond, List<String> headers, String envelopeSender,
                             List<String> temporaryReplies, List<String> senderDomains, AuthChoice authMechanism,
                             OAuthConfig oauth, List<SenderLogin> logins, String fromRewrite, int maxRecipients,
                             Provider provider) {

    /** Without per-sender logins, a From rewrite, a recipient cap or a provider (tools and tests). */
    public UpstreamConfig(String name, String type, String host, int port, TlsMode tls, Path caFile,
                          Path authFile, Path dir, int messagesPerConnection, int maxConnections,
                          double ratePerSecond, List<String> headers, String envelopeSender,
                          List<String> temporaryReplies, List<String> senderDomains, AuthChoice authMechanism,
                          OAuthConfig oauth) {
        this(name, type, host, port, tls, caFile, authFile, dir, messagesPerConnection, maxConnections, ratePerSecond,
                headers, envelopeSender, temporaryReplies, senderDomains, authMechanism, oauth, List.of(), "", 0,
                Provider.GENERIC);
    }

    /** Without per-sender logins or a From rewrite. */
    public UpstreamConfig(String name, String type, String host, int port, TlsMode tls, Path caFile,
                          Path authFile, Path dir, int messagesPerConnection, int maxConnections,
                          double ratePerSecond, List<String> headers, String envelopeSender,
                          List<String> temporaryReplies, List<String> senderDomains, AuthChoice authMechanism,
                          OAuthConfig oauth, int maxRecipients, Provider provider) {
        this(name, type, host, port, tls, caFile, authFile, dir, messagesPerConnection, maxConnections, ratePerSecond,
                headers, envelopeSender, temporaryReplies, senderDomains, authMechanism, oauth, List.of(), "",
                maxRecipients, provider);
    }

    /**
     * The {@code auth_mechanism} key. AUTO: XOAUTH2 when {@code oauth_provider} is set, else PLAIN
     * when offered, else LOGIN. A named mechanism is the only one used: the relay never falls back
     * to another (weaker) one when the upstream does not offer it.
     */
    public enum AuthChoice { AUTO, PLAIN, LOGIN, XOAUTH2 }

    public static final String DEFAULT_TYPE = "smtp";
    public static final String DEFAULT_TLS = "starttls";
    public static final int DEFAULT_MESSAGES_PER_CONNECTION = 100;
    public static final int DEFAULT_MAX_CONNECTIONS = 4;
    public static final double DEFAULT_RATE_PER_SECOND = 0;
    public static final int DEFAULT_MAX_RECIPIENTS = 0;
    public static final Path DEFAULT_OUTBOX_DIR = Path.of("/var/lib/relaybox/outbox");

    public UpstreamConfig {
        headers = List.copyOf(headers);
        temporaryReplies = List.copyOf(temporaryReplies);
        senderDomains = List.copyOf(senderDomains);
        logins = List.copyOf(logins);
    }

    /** This upstream authenticating with {@code file} instead (one of its per-sender logins). */
    public UpstreamConfig withAuthFile(Path file) {
        return new UpstreamConfig(name, type, host, port, tls, caFile, file, dir, messagesPerConnection, maxConnections,
                ratePerSecond, headers, envelopeSender, temporaryReplies, senderDomains, authMechanism, oauth, logins,
                fromRewrite, maxRecipients, provider);
    }

    public boolean isOutbox() {
        return "outbox".equals(type);
    }

    /** An outbox upstream writing into {@code dir}: the default of {@code relaybox run --dev}. */
    public static UpstreamConfig outbox(Path dir) {
        return new UpstreamConfig("outbox", "outbox", "", 0, TlsMode.NONE, null, null, dir,
                DEFAULT_MESSAGES_PER_CONNECTION, 1, 0, List.of(), "", List.of(), List.of(), AuthChoice.AUTO, null,
                DEFAULT_MAX_RECIPIENTS, Provider.GENERIC);
    }

    /** A plain SMTP upstream with defaults, for tests and tools. */
    public static UpstreamConfig smtp(String name, String host, int port, TlsMode tls) {
        return new UpstreamConfig(name, "smtp", host, port, tls, null, null, null, DEFAULT_MESSAGES_PER_CONNECTION,
                DEFAULT_MAX_CONNECTIONS, 0, List.of(), "", List.of(), List.of(), AuthChoice.AUTO, null,
                DEFAULT_MAX_RECIPIENTS, Provider.GENERIC);
    }

    /**
     * A loopback host: "localhost" (RFC 6761 reserves it for loopback) or a literal loopback
     * address, 127.0.0.0/8 or ::1. Only literals are parsed, never looked up, so a name such as
     * "127.0.0.1.evil.example" is not one.
     */
    public static boolean isLoopback(String host) {
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
        // Before every other key: the preset's values lie under the ones the table sets.
        Provider provider = UpstreamPreset.apply(r);
        if (provider != Provider.GENERIC && type.equals("outbox")) {
            throw r.error("preset", "a preset names an ESP; an outbox upstream has none", r.string("preset", ""));
        }
        String host = r.string("host", "");
        TlsMode tls = TlsMode.parse(r.choice("tls", DEFAULT_TLS, TlsMode.words()));
        int port = (int) r.integer("port", tls.defaultPort(), 1, 65535);
        Path ca = r.path("ca_file", null);
        Path auth = r.path("auth_file", null);
        Path dir = r.path("dir", DEFAULT_OUTBOX_DIR);
        int perConn = (int) r.integer("messages_per_connection", DEFAULT_MESSAGES_PER_CONNECTION, 1, 1_000_000);
        int maxConn = (int) r.integer("max_connections", DEFAULT_MAX_CONNECTIONS, 1, 1000);
        double rate = r.decimal("rate_per_second", DEFAULT_RATE_PER_SECOND, 0, 1_000_000);
        int maxRcpt = (int) r.integer("max_recipients", DEFAULT_MAX_RECIPIENTS, 0, 100_000);
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
                ReplyRuleText.parse(rule);
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
        AuthChoice mech = AuthChoice.valueOf(r.choice("auth_mechanism", "auto", "auto", "plain", "login", "xoauth2")
                .toUpperCase(Locale.ROOT));
        OAuthConfig oauth = OAuthConfig.from(r);
        if (oauth != null && mech != AuthChoice.AUTO && mech != AuthChoice.XOAUTH2) {
            throw r.error("auth_mechanism", "oauth_provider is set: the mechanism is xoauth2", mech.name().toLowerCase(Locale.ROOT));
        }
        if (mech == AuthChoice.XOAUTH2 && oauth == null) {
            throw r.error("auth_mechanism", "xoauth2 needs oauth_provider (and oauth_client_id)", "xoauth2");
        }
        List<SenderLogin> logins = SenderLogin.from(r);
        String fromRewrite = FromRewriteKey.read(r);
        if (!logins.isEmpty() && !type.equals("smtp")) {
            throw r.error("login", "per-sender logins need an smtp upstream", type);
        }
        if ((oauth != null || mech != AuthChoice.AUTO) && auth == null && logins.isEmpty()) {
            throw r.error("auth_file", "AUTH is configured, so the secrets file is needed", "");
        }
        if ((auth != null || !logins.isEmpty()) && tls == TlsMode.NONE && !isLoopback(host)) {
            // Credentials are never sent in clear over a network; only a local tunnel may take them.
            throw r.error("auth_file", "credentials are never sent without TLS: set tls = \"starttls\" or \"tls\""
                    + " (tls = \"none\" with AUTH is allowed only for a loopback host)", auth == null ? "[[upstream.login]]" : auth);
        }
        return new UpstreamConfig(name, type, host, port, tls, ca, auth, dir, perConn, maxConn, rate, headers,
                sender, rules, domains, mech, oauth, logins, fromRewrite, maxRcpt, provider);
    }
}
