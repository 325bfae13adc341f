package relaybox.relay.config;

import java.util.List;

/**
 * The intake's settings ({@code intake_*} keys). Placeholder: the intake owns and extends it.
 *
 * @param listen intake_listen: addresses to accept SMTP on, "host:port" or "[v6]:port"
 */
public record IntakeConfig(List<String> listen) {

    public static final List<String> DEFAULT_LISTEN = List.of("127.0.0.1:25");

    public static IntakeConfig from(ConfigReader r) throws ConfigException {
        return new IntakeConfig(r.stringList("intake_listen", DEFAULT_LISTEN));
    }
}
