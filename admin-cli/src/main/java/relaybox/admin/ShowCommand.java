package relaybox.admin;

import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.ControlWire;
import relaybox.relay.control.api.ControlReply;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code relaybox queue show ID [--raw]}: one entry in the readable record form, with its headers. */
@Command(name = "show", mixinStandardHelpOptions = true,
        description = "Show one entry: envelope, every recipient with status, attempts and last reply, and the "
                + "message headers. --raw prints the stored message exactly as it will be sent.")
final class ShowCommand implements Callable<Integer> {

    private final Cli cli;
    @Mixin
    ClientOptions client;
    @Parameters(paramLabel = "ID", description = "Queue id (case does not matter).")
    String id;
    @Option(names = "--raw", description = "Print the stored message (added headers + client bytes).")
    boolean raw;
    @Option(names = "--json", description = "One JSON object: the list fields plus headers.")
    boolean json;
    @Option(names = "--offline", description = "Read the queue store directly; only while the daemon is stopped.")
    boolean offline;
    @Option(names = "--queue-dir", paramLabel = "DIR", description = "Queue directory for --offline.")
    Path queueDir;

    ShowCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws CliException {
        ControlRequest req = new ControlRequest.Show(id, raw);
        try (Control c = ListCommand.open(cli, client, offline, queueDir)) {
            ControlReply r = c.call(req);
            if (raw) {
                try (InputStream in = r.raw()) {
                    in.transferTo(cli.out());
                    cli.out().flush();
                } catch (IOException e) {
                    throw new CliException(Cli.UNREACHABLE, "the message stream broke: " + e.getMessage());
                }
                return Cli.OK;
            }
            if (json) {
                ObjectNode e = (ObjectNode) r.json().path("entry");
                e.put("headers", r.json().path("headers").asText());
                cli.out().println(ControlWire.text(e));
                return Cli.OK;
            }
            cli.out().print(r.json().path("text").asText());
            cli.out().println();
            String err = r.json().path("headers_error").asText("");
            cli.out().println(err.isEmpty() ? "headers:" : "headers: (unreadable: " + err + ")");
            r.json().path("headers").asText().lines().forEach(l -> cli.out().println("  " + l));
            return Cli.OK;
        }
    }
}
