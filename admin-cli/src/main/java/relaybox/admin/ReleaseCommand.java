package relaybox.admin;

import picocli.CommandLine.Command;
import relaybox.relay.control.api.Op;
import picocli.CommandLine.Option;

/** {@code relaybox queue release}. */
@Command(name = "release", mixinStandardHelpOptions = true,
        description = "Release held entries so they are due at once. --all releases every held entry.")
final class ReleaseCommand extends ActionCommand {

    @Option(names = "--all", description = "Every entry this applies to.")
    boolean all;

    ReleaseCommand(Cli cli) {
        super(cli, Op.RELEASE, "released");
    }

    @Override
    String selector() {
        return all ? "all" : null;
    }
}
