package relaybox.relay.config;

import java.time.Duration;

/**
 * The intake's defences against hostile load ({@code intake_*} keys): deadlines that bytes do not
 * extend, the shorter ones used under connection pressure, the heap budget for header sections,
 * and the brakes on password guessing. Kept apart from {@link IntakeConfig} so that the record
 * of where the intake listens and whom it serves stays readable.
 *
 * @param ehloTimeout          intake_ehlo_timeout: connect to an accepted EHLO/HELO, in total
 * @param dataMinRate          intake_data_min_rate: bytes per second a message must average, after
 *                             intake_data_timeout, for DATA to go on
 * @param pressureTimeout      intake_pressure_timeout: replaces the EHLO, command and DATA
 *                             timeouts while more than half of intake_max_connections are open
 * @param headerMemory         intake_header_memory: heap that all sessions together may use to
 *                             hold header sections (DKIM signs the header section at the end)
 * @param authNetworkFailures  intake_auth_network_failures: failed AUTH attempts from one IPv4 /24
 *                             or IPv6 /64 before that network is locked out
 * @param authGlobalFailures   intake_auth_global_failures: failed AUTH attempts per minute from
 *                             everyone together before AUTH is refused for the rest of the minute
 * @param authThreads          intake_auth_threads: threads that check passwords, off the event loops
 */
public record IntakeLimits(Duration ehloTimeout, long dataMinRate, Duration pressureTimeout, long headerMemory,
                           int authNetworkFailures, int authGlobalFailures, int authThreads) {

    public static final Duration DEFAULT_EHLO_TIMEOUT = Duration.ofMinutes(5);
    /** 4 KiB/s: a 25 MiB message over a slow link still fits; a byte a second does not. */
    public static final long DEFAULT_DATA_MIN_RATE = 4 << 10;
    /** Postfix's stress-mode smtpd_timeout. */
    public static final Duration DEFAULT_PRESSURE_TIMEOUT = Duration.ofSeconds(10);
    /** 64 MiB: 64 sessions with a full 1 MiB header section, far more with ordinary ones. */
    public static final long DEFAULT_HEADER_MEMORY = 64L << 20;
    public static final int DEFAULT_AUTH_NETWORK_FAILURES = 10;
    public static final int DEFAULT_AUTH_GLOBAL_FAILURES = 60;
    public static final int DEFAULT_AUTH_THREADS = 1;

    static IntakeLimits from(ConfigReader r) throws ConfigException {
        Duration ehlo = positive(r, "intake_ehlo_timeout", DEFAULT_EHLO_TIMEOUT);
        long rate = r.size("intake_data_min_rate", DEFAULT_DATA_MIN_RATE);
        if (rate < 1) {
            throw r.error("intake_data_min_rate", "must be at least 1 byte (per second)", rate);
        }
        Duration pressure = positive(r, "intake_pressure_timeout", DEFAULT_PRESSURE_TIMEOUT);
        long headers = r.size("intake_header_memory", DEFAULT_HEADER_MEMORY);
        if (headers < (2 << 20)) {
            throw r.error("intake_header_memory", "must be at least 2MiB (a full 1 MiB header section and more)",
                    headers);
        }
        int network = (int) r.integer("intake_auth_network_failures", DEFAULT_AUTH_NETWORK_FAILURES, 1, 1_000_000);
        int global = (int) r.integer("intake_auth_global_failures", DEFAULT_AUTH_GLOBAL_FAILURES, 1, 1_000_000);
        int threads = (int) r.integer("intake_auth_threads", DEFAULT_AUTH_THREADS, 1, 64);
        return new IntakeLimits(ehlo, rate, pressure, headers, network, global, threads);
    }

    private static Duration positive(ConfigReader r, String key, Duration def) throws ConfigException {
        Duration d = r.duration(key, def);
        if (d.isZero() || d.isNegative()) {
            throw r.error(key, "must be more than 0", d);
        }
        return d;
    }
}
