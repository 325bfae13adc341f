package relaybox.admin;

import picocli.CommandLine.Option;
import relaybox.relay.RelayDaemon;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.ControlConfig;
import relaybox.relay.config.QueueConfig;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Options shared by every command that talks to the daemon, and where the control socket is:
 * {@code --socket}, else {@code --dev} (./relaybox-data/control.sock, as {@code run --dev} makes
 * it), else {@code $RELAYBOX_CONTROL_SOCKET}, else {@code control_socket} in the config file
 * ({@code --config FILE}, default /etc/relaybox/relaybox.conf), else /run/relaybox/control.sock.
 */
final class ClientOptions {

    static final String SOCKET_ENV = "RELAYBOX_CONTROL_SOCKET";

    @Option(names = "--socket", paramLabel = "PATH",
            description = "Control socket of the daemon (default: control_socket from the config file, "
                    + "else /run/relaybox/control.sock).")
    Path socket;

    @Option(names = "--config", paramLabel = "FILE",
            description = "Config file to read control_socket (and queue_dir for --offline) from "
                    + "(default: /etc/relaybox/relaybox.conf).")
    Path config;

    @Option(names = "--dev", description = "Talk to the daemon of `relaybox run --dev` started in this directory "
            + "(socket and queue in ./relaybox-data).")
    boolean dev;

    @Option(names = "--timeout", hidden = true, defaultValue = "30", description = "Seconds to wait for the daemon.")
    long timeoutSeconds;

    Control connect(Cli cli) throws CliException {
        return new SocketControl(socketPath(cli), Duration.ofSeconds(timeoutSeconds));
    }

    Control connect(Cli cli, Duration timeout) throws CliException {
        return new SocketControl(socketPath(cli), timeout);
    }

    Path socketPath(Cli cli) throws CliException {
        if (socket != null) {
            return socket;
        }
        if (dev) {
            return RelayDaemon.devDataDir().resolve("control.sock");
        }
        String env = cli.env().get(SOCKET_ENV);
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        ConfigReader r = reader(cli);
        if (r == null) {
            return ControlConfig.DEFAULT_SOCKET;
        }
        try {
            return ControlConfig.from(r).socket();
        } catch (ConfigException e) {
            throw new CliException(Cli.USAGE, e.getMessage());
        }
    }

    Path queueDir(Cli cli, Path override) throws CliException {
        if (override != null) {
            return override;
        }
        if (dev) {
            return RelayDaemon.devDataDir();
        }
        ConfigReader r = reader(cli);
        if (r == null) {
            return QueueConfig.DEFAULT_DIR;
        }
        try {
            return QueueConfig.from(r).dir();
        } catch (ConfigException e) {
            throw new CliException(Cli.USAGE, e.getMessage());
        }
    }

    /** The config file, or null when none was named and the default is absent or unreadable. */
    private ConfigReader reader(Cli cli) throws CliException {
        Path file = config != null ? config : cli.defaultConfig();
        if (config == null && !Files.isReadable(file)) {
            return null;
        }
        try {
            return ConfigReader.load(file);
        } catch (ConfigException e) {
            throw new CliException(Cli.USAGE, e.getMessage());
        }
    }
}
