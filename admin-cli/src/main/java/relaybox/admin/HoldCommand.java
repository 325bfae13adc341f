package relaybox.admin;

import picocli.CommandLine.Command;
import relaybox.relay.control.api.Op;
import picocli.CommandLine.Option;

/** {@code relaybox queue hold}. */
@Command(name = "hold", mixinStandardHelpOptions = true,
        description = "Hold entries so they are not sent until released. --all holds every queued, deferred and failed entry.")
final class HoldCommand extends ActionCommand {

    @Option(names = "--all", description = "Every entry this applies to.")
    boolean all;

    HoldCommand(Cli cli) {
        super(cli, Op.HOLD, "held");
    }

    @Override
    String selector() {
        return all ? "all" : null;
    }
}
