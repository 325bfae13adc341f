package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.ControlWire;

import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code relaybox queue purge --failed [--older-than D]}: deletes failed entries now, as the
 * daemon's retention sweep does on its own once they are older than {@code queue_failed_retention}.
 * Each purged entry gets a mail-log line; this prints how many went.
 */
@Command(name = "purge", mixinStandardHelpOptions = true,
        description = {"Delete failed entries and their messages, for good: all of them, or those queued longer ago "
                + "than --older-than.",
                "The daemon does the same on its own for failed entries older than queue_failed_retention."})
final class PurgeCommand implements Callable<Integer> {

    private final Cli cli;
    @Mixin
    ClientOptions client;
    @Option(names = "--failed", required = true, description = "Purge failed entries (the only kind purged).")
    boolean failed;
    @Option(names = "--older-than", paramLabel = "D", description = "Only those queued longer ago than D (30m, 2h, 5d).")
    String olderThan;

    PurgeCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws CliException {
        ControlRequest req = new ControlRequest.Purge(true,
                new ControlRequest.Filter(List.of(), olderThan, "", ""));
        JsonNode reply;
        try (Control c = client.connect(cli)) {
            reply = c.call(req).json();
        }
        long n = reply.path("purged").asLong();
        cli.out().println("purged " + n + (n == 1 ? " failed entry" : " failed entries"));
        return n > 0 ? Cli.OK : Cli.NOT_FOUND;
    }
}
