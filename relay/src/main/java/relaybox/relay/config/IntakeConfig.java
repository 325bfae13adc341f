package relaybox.relay.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

/**
 * The intake's settings ({@code intake_*} keys): where it listens, whom it serves, and its limits.
 * Defaults are the named constants below; {@code etc/relaybox.conf} documents each key with the
 * same default.
 *
 * @param listen                  intake_listen: addresses to accept SMTP on, "host:port" or "[v6]:port"
 * @param hostname                intake_hostname: our name in the greeting, EHLO reply and Received:
 * @param networks                intake_networks: client networks (CIDR) that may relay without AUTH
 * @param maxMessageSize          intake_max_message_size: the SIZE we advertise and enforce, in bytes
 * @param maxRecipients           intake_max_recipients: recipients per message
 * @param maxConnections          intake_max_connections: open SMTP connections in total
 * @param maxConnectionsPerClient intake_max_connections_per_client: open connections per client address,
 *                                for clients outside intake_networks
 * @param commandTimeout          intake_command_timeout: time for each command line, from the end of the
 *                                one before; bytes do not extend it
 * @param dataTimeout             intake_data_timeout: time for a message, plus what intake_data_min_rate
 *                                earns it
 * @param workerThreads           intake_worker_threads: event loops that run sessions (0 in the file: one per core)
 * @param tlsCert                 intake_tls_cert: PEM certificate chain for STARTTLS, or null
 * @param tlsKey                  intake_tls_key: PEM private key for STARTTLS, or null
 * @param authCredentials         intake_auth_credentials: file of user:hash lines for AUTH, or null
 * @param drainTimeout            intake_drain_timeout: how long a stopping daemon waits for open transactions
 * @param authMaxFailures         intake_auth_max_failures: failed AUTH attempts per connection before 421
 *                                and disconnect; as many from one client address start a lock-out
 * @param limits                  the defences against hostile load: deadlines, pressure, header memory,
 *                                password-guessing brakes ({@link IntakeLimits})
 */
public record IntakeConfig(List<InetSocketAddress> listen, String hostname, List<Cidr> networks,
                           long maxMessageSize, int maxRecipients, int maxConnections,
                           int maxConnectionsPerClient, Duration commandTimeout, Duration dataTimeout,
                           int workerThreads, Path tlsCert, Path tlsKey, Path authCredentials,
                           Duration drainTimeout, int authMaxFailures, IntakeLimits limits) {

    public static final List<String> DEFAULT_LISTEN = List.of("127.0.0.1:25");
    /** Empty means the machine's own name, looked up at start. */
    public static final String DEFAULT_HOSTNAME = "";
    public static final List<String> DEFAULT_NETWORKS = List.of("127.0.0.0/8", "::1/128");
    public static final long DEFAULT_MAX_MESSAGE_SIZE = 25L << 20;
    public static final int DEFAULT_MAX_RECIPIENTS = 1000;
    public static final int DEFAULT_MAX_CONNECTIONS = 200;
    public static final int DEFAULT_MAX_CONNECTIONS_PER_CLIENT = 100;
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofMinutes(5);
    public static final Duration DEFAULT_DATA_TIMEOUT = Duration.ofMinutes(10);
    /**
     * Each session is pinned to one worker thread and a thread waits while the queue commits, so
     * this bounds how many sessions can be inside a group commit at once.
     */
    /** 0: one event loop per CPU core. */
    public static final int DEFAULT_WORKER_THREADS = 0;
    public static final Duration DEFAULT_DRAIN_TIMEOUT = Duration.ofSeconds(30);
    /** Password guessing: three tries per connection (as many MUAs allow), then 421. */
    public static final int DEFAULT_AUTH_MAX_FAILURES = 3;

    public IntakeConfig {
        listen = List.copyOf(listen);
        networks = List.copyOf(networks);
    }

    public static IntakeConfig from(ConfigReader r) throws ConfigException {
        List<InetSocketAddress> listen = new ArrayList<>();
        List<String> listenText = r.stringList("intake_listen", DEFAULT_LISTEN);
        if (listenText.isEmpty()) {
            throw r.error("intake_listen", "needs at least one address", listenText);
        }
        for (String s : listenText) {
            listen.add(parseListen(s).orElseThrow(() -> r.error("intake_listen",
                    "expected \"host:port\" or \"[v6 address]:port\" with a port from 0 to 65535", s)));
        }
        String hostname = r.string("intake_hostname", DEFAULT_HOSTNAME).trim();
        if (hostname.isEmpty()) {
            hostname = machineName();
        } else if (!hostname.matches("[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?")) {
            throw r.error("intake_hostname", "expected a host name like \"mail.example.com\"", hostname);
        }
        List<Cidr> networks = new ArrayList<>();
        for (String s : r.stringList("intake_networks", DEFAULT_NETWORKS)) {
            networks.add(Cidr.parse(s).orElseThrow(() -> r.error("intake_networks",
                    "expected networks like \"127.0.0.0/8\" or \"::1/128\"", s)));
        }
        long maxSize = r.size("intake_max_message_size", DEFAULT_MAX_MESSAGE_SIZE);
        // Kept below 2 GiB: clients and the SIZE keyword handle that, and nobody relays more.
        if (maxSize < 1024 || maxSize > Integer.MAX_VALUE) {
            throw r.error("intake_max_message_size", "expected a size from 1KiB to 2047MiB", maxSize);
        }
        int maxRcpt = (int) r.integer("intake_max_recipients", DEFAULT_MAX_RECIPIENTS, 1, 100_000);
        int maxConn = (int) r.integer("intake_max_connections", DEFAULT_MAX_CONNECTIONS, 1, 100_000);
        int maxPerClient = (int) r.integer("intake_max_connections_per_client", DEFAULT_MAX_CONNECTIONS_PER_CLIENT,
                1, 100_000);
        Duration cmdTimeout = positive(r, "intake_command_timeout", DEFAULT_COMMAND_TIMEOUT);
        Duration dataTimeout = positive(r, "intake_data_timeout", DEFAULT_DATA_TIMEOUT);
        int workers = (int) r.integer("intake_worker_threads", DEFAULT_WORKER_THREADS, 0, 4096);
        if (workers == 0) {
            workers = Runtime.getRuntime().availableProcessors();
        }
        Path cert = optionalPath(r, "intake_tls_cert");
        Path key = optionalPath(r, "intake_tls_key");
        if ((cert == null) != (key == null)) {
            String missing = cert == null ? "intake_tls_cert" : "intake_tls_key";
            throw r.error(missing, "intake_tls_cert and intake_tls_key must be set together", "");
        }
        Path creds = optionalPath(r, "intake_auth_credentials");
        if (creds != null && cert == null) {
            throw r.error("intake_auth_credentials",
                    "AUTH is only offered over TLS: set intake_tls_cert and intake_tls_key too", creds);
        }
        Duration drain = r.duration("intake_drain_timeout", DEFAULT_DRAIN_TIMEOUT);
        int authMax = (int) r.integer("intake_auth_max_failures", DEFAULT_AUTH_MAX_FAILURES, 1, 1000);
        return new IntakeConfig(listen, hostname, networks, maxSize, maxRcpt, maxConn, maxPerClient, cmdTimeout,
                dataTimeout, workers, cert, key, creds, drain, authMax, IntakeLimits.from(r));
    }

    /** Every default, as the daemon uses them when the file says nothing. */
    public static IntakeConfig defaults() {
        try {
            return from(ConfigReader.empty());
        } catch (ConfigException e) {
            throw new IllegalStateException("built-in intake defaults are invalid", e);
        }
    }

    /** The same settings listening elsewhere (tests, --dev). */
    public IntakeConfig withListen(List<InetSocketAddress> addresses) {
        return new IntakeConfig(addresses, hostname, networks, maxMessageSize, maxRecipients, maxConnections,
                maxConnectionsPerClient, commandTimeout, dataTimeout, workerThreads, tlsCert, tlsKey,
                authCredentials, drainTimeout, authMaxFailures, limits);
    }

    public boolean tlsConfigured() {
        return tlsCert != null;
    }

    /** Parses "127.0.0.1:25", "[::1]:25" or "localhost:2525"; the port may be 0 (tests). */
    public static java.util.Optional<InetSocketAddress> parseListen(String s) {
        String host;
        String port;
        s = s.trim();
        if (s.startsWith("[")) {
            int end = s.indexOf("]:");
            if (end < 0) {
                return java.util.Optional.empty();
            }
            host = s.substring(1, end);
            port = s.substring(end + 2);
        } else {
            int colon = s.lastIndexOf(':');
            if (colon <= 0 || s.indexOf(':') != colon) {
                return java.util.Optional.empty();
            }
            host = s.substring(0, colon);
            port = s.substring(colon + 1);
        }
        if (!port.matches("\\d{1,5}") || Integer.parseInt(port) > 65535 || host.isEmpty()) {
            return java.util.Optional.empty();
        }
        if (!host.matches("[0-9A-Za-z.:%-]+")) {
            return java.util.Optional.empty();
        }
        // Unresolved: binding resolves it, so a name that does not resolve fails at start, loudly.
        return java.util.Optional.of(InetSocketAddress.createUnresolved(host, Integer.parseInt(port)));
    }

    private static Duration positive(ConfigReader r, String key, Duration def) throws ConfigException {
        Duration d = r.duration(key, def);
        if (d.isZero() || d.isNegative()) {
            throw r.error(key, "must be more than 0", d);
        }
        return d;
    }

    private static Path optionalPath(ConfigReader r, String key) throws ConfigException {
        String s = r.string(key, "");
        return s.isBlank() ? null : Path.of(s.trim());
    }

    private static String machineName() {
        try {
            // The configured name only: no reverse DNS lookup at start.
            return InetAddress.getLocalHost().getHostName();
        } catch (UnknownHostException e) {
            return "localhost";
        }
    }
}
