package relaybox.relay.config;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.UnknownHostException;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The metrics and health endpoint's settings ({@code metrics_*} keys). Off by default: relaybox
 * opens no port besides SMTP unless the operator asks.
 *
 * @param listen metrics_listen: "" (off), a port alone (bound to 127.0.0.1), or "host:port" /
 *               "[v6]:port" with a literal address; anything but loopback must be written out
 * @param path   metrics_path: where the Prometheus exposition is served; /healthz is fixed
 */
public record MetricsConfig(String listen, String path) {

    public static final String DEFAULT_LISTEN = "";
    public static final String DEFAULT_PATH = "/metrics";
    public static final String HEALTH_PATH = "/healthz";

    private static final Pattern HOST_PORT = Pattern.compile("(?:\\[([0-9a-fA-F:.]+)]|([^:\\[\\]]+)):(\\d{1,5})");
    private static final Pattern PORT = Pattern.compile("\\d{1,5}");
    private static final Pattern LITERAL = Pattern.compile("[0-9.]+|[0-9a-fA-F:.]+|localhost");

    public static MetricsConfig from(ConfigReader r) throws ConfigException {
        String listen = r.string("metrics_listen", DEFAULT_LISTEN).trim();
        String path = r.string("metrics_path", DEFAULT_PATH);
        if (!listen.isEmpty() && parse(listen).isEmpty()) {
            throw r.error("metrics_listen", "expected \"\" (off), a port, or \"host:port\" with a literal address",
                    listen);
        }
        if (!path.startsWith("/") || path.equals(HEALTH_PATH) || path.contains(" ")) {
            throw r.error("metrics_path", "expected a path starting with / other than " + HEALTH_PATH, path);
        }
        return new MetricsConfig(listen, path);
    }

    /** True when metrics_listen is set. */
    public boolean enabled() {
        return !listen.isEmpty();
    }

    /** The address to bind; empty when the endpoint is off. */
    public Optional<InetSocketAddress> address() {
        return listen.isEmpty() ? Optional.empty() : parse(listen);
    }

    static Optional<InetSocketAddress> parse(String s) {
        try {
            Matcher p = PORT.matcher(s);
            if (p.matches()) {
                return port(s).map(n -> new InetSocketAddress(InetAddress.getLoopbackAddress(), n));
            }
            Matcher m = HOST_PORT.matcher(s);
            if (!m.matches()) {
                return Optional.empty();
            }
            String host = m.group(1) != null ? m.group(1) : m.group(2);
            // Literal addresses only: a host name would be resolved once, at start, to whatever DNS said.
            if (!LITERAL.matcher(host).matches()) {
                return Optional.empty();
            }
            InetAddress a = InetAddress.getByName(host);
            return port(m.group(3)).map(n -> new InetSocketAddress(a, n));
        } catch (UnknownHostException e) {
            return Optional.empty();
        }
    }

    private static Optional<Integer> port(String s) {
        int n = Integer.parseInt(s);
        return n <= 65535 ? Optional.of(n) : Optional.empty();
    }
}
