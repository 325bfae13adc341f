package relaybox.relay.config;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;

/**
 * The control socket's settings ({@code control_*} keys): where the daemon serves the admin API
 * and who may reach it. Access control is the socket file's mode (0660) and group; there is no
 * TCP listener and no password.
 *
 * @param socket control_socket: the Unix domain socket file the daemon listens on
 * @param group  control_group: the group that owns the socket; its members (and root) may use
 *               the admin CLI. Empty keeps the daemon's own primary group. The default is the
 *               operator group the packages create, {@code relaybox-ctl}, not the service group
 *               {@code relaybox}: the service group reads the upstream secret, the DKIM keys and
 *               the spool, so operators must never be put in it.
 */
public record ControlConfig(Path socket, String group) {

    public static final Path DEFAULT_SOCKET = relaybox.relay.control.api.SocketPaths.DEFAULT;
    public static final String DEFAULT_GROUP = "relaybox-ctl";
    /** sun_path in struct sockaddr_un is 108 bytes on Linux, including the terminating NUL. */
    static final int MAX_SOCKET_PATH_BYTES = 107;

    public static ControlConfig from(ConfigReader r) throws ConfigException {
        Path socket = r.path("control_socket", DEFAULT_SOCKET);
        String group = r.string("control_group", DEFAULT_GROUP);
        if (!socket.isAbsolute()) {
            throw r.error("control_socket", "expected an absolute path", socket);
        }
        if (socket.toString().getBytes(StandardCharsets.UTF_8).length > MAX_SOCKET_PATH_BYTES) {
            throw r.error("control_socket", "path too long for a Unix socket (at most "
                    + MAX_SOCKET_PATH_BYTES + " bytes)", socket);
        }
        if (!group.isEmpty() && !group.matches("[A-Za-z_][A-Za-z0-9_.-]*\\$?")) {
            throw r.error("control_group", "expected a group name", group);
        }
        return new ControlConfig(socket, group);
    }
}
