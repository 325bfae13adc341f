package relaybox.admin;

import picocli.CommandLine.Option;
import relaybox.relay.control.api.SocketPaths;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;

/**
 * Options shared by every command that talks to the daemon, and where the control socket is:
 * {@code --socket}, else {@code --dev} (./relaybox-data/control.sock, as {@code run --dev} makes
 * it), else {@code $RELAYBOX_CONTROL_SOCKET}, else {@code control_socket} in the config file
 * ({@code --config FILE}, default /etc/relaybox/relaybox.conf), else /run/relaybox/control.sock.
 * The file is only peeked at for that one key ({@link ConfigPeek}): a client command loads the
 * control API and its socket client, not the daemon's configuration classes.
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
            return SocketPaths.dev();
        }
        String env = cli.env().get(SOCKET_ENV);
        if (env != null && !env.isBlank()) {
            return Path.of(env);
        }
        Path file = configFile(cli);
        if (file == null) {
            return SocketPaths.DEFAULT;
        }
        String named;
        try {
            named = ConfigPeek.requiredString(ConfigPeek.read(file), "control_socket");
        } catch (IOException e) {
            throw new CliException(Cli.USAGE, e.getMessage());
        } catch (IllegalArgumentException e) {
            throw new CliException(Cli.USAGE, file + ": " + e.getMessage());
        }
        if (named == null || named.isEmpty()) {
            return SocketPaths.DEFAULT;
        }
        Path p = Path.of(named);
        if (!p.isAbsolute()) {
            throw new CliException(Cli.USAGE, file + ": control_socket: expected an absolute path (got \"" + named + "\")");
        }
        return p;
    }

    /** The config file to read, or null when none was named and the default is absent or unreadable. */
    Path configFile(Cli cli) {
        Path file = config != null ? config : cli.defaultConfig();
        return config == null && !Files.isReadable(file) ? null : file;
    }
}
