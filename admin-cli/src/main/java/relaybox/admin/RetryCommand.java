package relaybox.admin;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/** {@code relaybox queue retry}. */
@Command(name = "retry", mixinStandardHelpOptions = true, description = "Make queued or deferred entries due now (send now). --all retries every one.")
final class RetryCommand extends ActionCommand {

    @Option(names = "--all", description = "Every entry this applies to.")
    boolean all;

    RetryCommand(Cli cli) {
        super(cli, "retry", "retried");
    }

    @Override
    String selector() {
        return all ? "all" : null;
    }
}
