package relaybox.relay.config;

import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * The dispatcher's and the forwarder's settings ({@code forward_*} keys and the
 * {@code [[upstream]]} tables). Every key is documented with its default in etc/relaybox.conf.
 *
 * @param concurrency     forward_concurrency: messages in flight at once, across all upstreams
 * @param idleTimeout     forward_idle_timeout: close (QUIT) a session idle this long
 * @param noopInterval    forward_noop_interval: send NOOP on an idle session this often
 * @param connectTimeout  forward_connect_timeout: TCP connect (and TLS handshake) limit
 * @param greetingTimeout forward_greeting_timeout: wait for the upstream's 220
 * @param commandTimeout  forward_command_timeout: wait for each reply (EHLO, AUTH, MAIL, RCPT, DATA), and for
 *                        the socket to accept more body bytes
 * @param dataTimeout     forward_data_timeout: wait for the reply to the final "."
 * @param probeInterval   forward_probe_interval: how often a down upstream is probed
 * @param heloName        forward_helo_name: name sent in EHLO; "" means this machine's host name
 * @param dsn             forward_dsn: send delivery status notifications for failed mail
 * @param dsnPerMinute    forward_dsn_rate: at most this many DSNs per minute; more are logged and dropped
 * @param upstreams       the [[upstream]] tables, in failover order
 */
public record ForwardConfig(int concurrency, Duration idleTimeout, Duration noopInterval, Duration connectTimeout,
                            Duration greetingTimeout, Duration commandTimeout, Duration dataTimeout,
                            Duration probeInterval, String heloName, boolean dsn, int dsnPerMinute,
                            List<UpstreamConfig> upstreams) {

    public static final int DEFAULT_CONCURRENCY = 4;
    public static final Duration DEFAULT_IDLE_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration DEFAULT_NOOP_INTERVAL = Duration.ofSeconds(30);
    public static final Duration DEFAULT_CONNECT_TIMEOUT = Duration.ofSeconds(30);
    public static final Duration DEFAULT_GREETING_TIMEOUT = Duration.ofSeconds(60);
    public static final Duration DEFAULT_COMMAND_TIMEOUT = Duration.ofMinutes(2);
    public static final Duration DEFAULT_DATA_TIMEOUT = Duration.ofMinutes(10);
    public static final Duration DEFAULT_PROBE_INTERVAL = Duration.ofSeconds(5);
    public static final boolean DEFAULT_DSN = true;
    public static final int DEFAULT_DSN_RATE = 60;

    public ForwardConfig {
        upstreams = List.copyOf(upstreams);
    }

    /** The same settings sending {@code name} in EHLO. */
    public ForwardConfig withHeloName(String name) {
        return new ForwardConfig(concurrency, idleTimeout, noopInterval, connectTimeout, greetingTimeout,
                commandTimeout, dataTimeout, probeInterval, name, dsn, dsnPerMinute, upstreams);
    }

    /** Defaults with the given upstreams, for tests and {@code run --dev}. */
    public static ForwardConfig defaults(List<UpstreamConfig> upstreams) {
        return new ForwardConfig(DEFAULT_CONCURRENCY, DEFAULT_IDLE_TIMEOUT, DEFAULT_NOOP_INTERVAL,
                DEFAULT_CONNECT_TIMEOUT, DEFAULT_GREETING_TIMEOUT, DEFAULT_COMMAND_TIMEOUT, DEFAULT_DATA_TIMEOUT,
                DEFAULT_PROBE_INTERVAL, "", DEFAULT_DSN, DEFAULT_DSN_RATE, upstreams);
    }

    /** The development setup: everything goes to .eml files in {@code outboxDir}. */
    public static ForwardConfig dev(Path outboxDir) {
        return defaults(List.of(UpstreamConfig.outbox(outboxDir)));
    }

    public static ForwardConfig from(ConfigReader r) throws ConfigException {
        int conc = (int) r.integer("forward_concurrency", DEFAULT_CONCURRENCY, 1, 10_000);
        Duration idle = positive(r, "forward_idle_timeout", DEFAULT_IDLE_TIMEOUT);
        Duration noop = positive(r, "forward_noop_interval", DEFAULT_NOOP_INTERVAL);
        Duration connect = positive(r, "forward_connect_timeout", DEFAULT_CONNECT_TIMEOUT);
        Duration greeting = positive(r, "forward_greeting_timeout", DEFAULT_GREETING_TIMEOUT);
        Duration command = positive(r, "forward_command_timeout", DEFAULT_COMMAND_TIMEOUT);
        Duration data = positive(r, "forward_data_timeout", DEFAULT_DATA_TIMEOUT);
        Duration probe = positive(r, "forward_probe_interval", DEFAULT_PROBE_INTERVAL);
        String helo = r.string("forward_helo_name", "");
        boolean dsn = r.bool("forward_dsn", DEFAULT_DSN);
        int dsnRate = (int) r.integer("forward_dsn_rate", DEFAULT_DSN_RATE, 0, 1_000_000);
        List<UpstreamConfig> ups = new ArrayList<>();
        List<ConfigReader> tables = r.tables("upstream");
        Set<String> names = new HashSet<>();
        for (int i = 0; i < tables.size(); i++) {
            UpstreamConfig u = UpstreamConfig.from(tables.get(i), i);
            if (!names.add(u.name())) {
                throw tables.get(i).error("name", "two [[upstream]] tables have this name", u.name());
            }
            ups.add(u);
        }
        if (ups.isEmpty()) {
            throw r.error("upstream", "at least one [[upstream]] table is needed (type = \"outbox\" for development)",
                    "none");
        }
        return new ForwardConfig(conc, idle, noop, connect, greeting, command, data, probe, helo, dsn, dsnRate, ups);
    }

    private static Duration positive(ConfigReader r, String key, Duration def) throws ConfigException {
        Duration d = r.duration(key, def);
        if (d.isZero()) {
            throw r.error(key, "must be more than 0", d);
        }
        return d;
    }
}
