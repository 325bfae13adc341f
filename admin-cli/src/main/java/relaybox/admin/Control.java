package relaybox.admin;

import relaybox.relay.control.api.ControlReply;
import relaybox.relay.control.api.ControlError;
import relaybox.relay.control.api.ControlRequest;

/**
 * How a command reaches the control API: over the daemon's socket, or (offline mode) through a
 * control service the CLI runs itself over a store it opened. Close it when done: the offline
 * form closes the store.
 */
interface Control extends AutoCloseable {

    /** The reply, or a {@link CliException} for unreachable (3), denied (3), and error replies. */
    ControlReply call(ControlRequest request) throws CliException;

    @Override
    void close();

    /** Maps an error reply to the documented exit codes. */
    static CliException failure(ControlReply r) {
        int code = r.error() == ControlError.BAD_REQUEST ? Cli.USAGE : Cli.NOT_FOUND;
        return new CliException(code, r.message());
    }
}
