package relaybox.relay.control.api;

import java.nio.file.Path;

/**
 * Where a daemon's control socket is when nothing names it: the packages' path, and the one of
 * {@code relaybox run --dev}. The daemon's config defaults and the CLI's lookup both read them
 * here, so they cannot drift apart.
 */
public final class SocketPaths {

    /** control_socket's default, under the unit's RuntimeDirectory. */
    public static final Path DEFAULT = Path.of("/run/relaybox/control.sock");

    private SocketPaths() {
    }

    /** Where {@code run --dev} keeps its queue and control socket: ./relaybox-data. */
    public static Path devDataDir() {
        return Path.of("relaybox-data").toAbsolutePath();
    }

    /** The control socket of {@code run --dev} started in the current directory. */
    public static Path dev() {
        return devDataDir().resolve("control.sock");
    }
}
