package relaybox.admin;

import picocli.CommandLine.Command;
import relaybox.relay.control.api.Op;
import picocli.CommandLine.Option;

/** {@code relaybox queue delete}. */
@Command(name = "delete", mixinStandardHelpOptions = true, description = "Delete entries and their messages, for good.")
final class DeleteCommand extends ActionCommand {

    @Option(names = "--all", description = "Every entry this applies to.")
    boolean all;
    @Option(names = "--failed", description = "Every failed entry.")
    boolean failed;

    DeleteCommand(Cli cli) {
        super(cli, Op.DELETE, "deleted");
    }

    @Override
    String selector() {
        return all && failed ? "both" : all ? "all" : failed ? "failed" : null;
    }

    @Override
    String selectorsText() {
        return "--all or --failed";
    }
}
