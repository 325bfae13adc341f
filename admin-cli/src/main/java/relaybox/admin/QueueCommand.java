package relaybox.admin;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.util.concurrent.Callable;

/** {@code relaybox queue}: the group of queue commands; alone it prints its help. */
@Command(name = "queue", mixinStandardHelpOptions = true,
        description = "Inspect and steer the daemon's queue.",
        subcommands = {ListCommand.class, ShowCommand.class, DeleteCommand.class, HoldCommand.class,
                ReleaseCommand.class, RetryCommand.class, RequeueCommand.class, PurgeCommand.class, StatsCommand.class,
                WatchCommand.class, CommandLine.HelpCommand.class})
final class QueueCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return Cli.USAGE;
    }
}
