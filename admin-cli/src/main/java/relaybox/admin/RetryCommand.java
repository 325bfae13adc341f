package relaybox.admin;

import picocli.CommandLine.Command;
import relaybox.relay.control.api.Op;
import picocli.CommandLine.Option;

/** {@code relaybox queue retry}. */
@Command(name = "retry", mixinStandardHelpOptions = true, description = "Make queued or deferred entries due now (send now). --all retries every one"
        + " and prints how many (--json: one line each), as postqueue -f.")
final class RetryCommand extends ActionCommand {

    @Option(names = "--all", description = "Every entry this applies to.")
    boolean all;

    RetryCommand(Cli cli) {
        super(cli, Op.RETRY, "retried");
    }

    @Override
    boolean countOnly() {
        // A flush after an outage covers the whole backlog: 10,000 lines of ids help nobody, and
        // printing them took CPU from the drain the flush started.
        return all && !json;
    }

    @Override
    String selector() {
        return all ? "all" : null;
    }
}
