package relaybox.relay.config;

/**
 * How the daemon writes its log ({@code log_*} keys). Logs always go to standard output, for
 * journald or a container runtime; there is no file and no rotation to manage.
 *
 * @param format log_format: "text" (one plain line per event) or "json" (one JSON object per
 *               line, for log shippers)
 */
public record LogConfig(String format) {

    public static final String TEXT = "text";
    public static final String JSON = "json";
    public static final String DEFAULT_FORMAT = TEXT;

    public static LogConfig from(ConfigReader r) throws ConfigException {
        return new LogConfig(r.choice("log_format", DEFAULT_FORMAT, TEXT, JSON));
    }

    public boolean json() {
        return format.equals(JSON);
    }
}
