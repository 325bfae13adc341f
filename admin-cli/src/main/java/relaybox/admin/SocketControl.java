package relaybox.admin;

import relaybox.relay.control.api.ControlClient;
import relaybox.relay.control.api.ControlReply;
import relaybox.relay.control.api.ControlRequest;

import java.nio.file.Path;
import java.time.Duration;

/** The control API over the daemon's socket; failures to connect become exit code 3. */
final class SocketControl implements Control {

    private final ControlClient client;

    SocketControl(Path socket, Duration timeout) {
        this.client = new ControlClient(socket, timeout);
    }

    @Override
    public ControlReply call(ControlRequest request) throws CliException {
        ControlReply r;
        try {
            r = client.call(request);
        } catch (ControlClient.Unreachable | ControlClient.PermissionDenied e) {
            throw new CliException(Cli.UNREACHABLE, e.getMessage());
        }
        if (!r.ok()) {
            throw Control.failure(r);
        }
        return r;
    }

    @Override
    public void close() {
        // One connection per request: nothing stays open.
    }
}
