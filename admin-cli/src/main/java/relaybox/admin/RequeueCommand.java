package relaybox.admin;

import picocli.CommandLine.Command;
import relaybox.relay.control.api.Op;
import picocli.CommandLine.Option;

/** {@code relaybox queue requeue}. */
@Command(name = "requeue", mixinStandardHelpOptions = true,
        description = "Give failed entries another life: their failed recipients are pending again and the "
                + "retry lifetime starts over. --failed requeues every failed entry.")
final class RequeueCommand extends ActionCommand {

    @Option(names = "--failed", description = "Every failed entry.")
    boolean failed;

    RequeueCommand(Cli cli) {
        super(cli, Op.REQUEUE, "requeued");
    }

    @Override
    String selector() {
        return failed ? "failed" : null;
    }

    @Override
    String selectorsText() {
        return "--failed";
    }
}
