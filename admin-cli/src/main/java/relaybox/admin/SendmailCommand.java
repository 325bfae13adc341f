package relaybox.admin;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code relaybox sendmail}: listed here for {@code relaybox --help}; the real entry is
 * {@link Main#main}'s fast path into {@link Sendmail}, which parses sendmail's own option syntax
 * (-FName, -oi, -B8BITMIME) that picocli does not.
 */
@Command(name = "sendmail", description = "sendmail-compatible submission: reads a message on stdin and queues "
        + "it with the local daemon (installed as /usr/sbin/sendmail). Run 'relaybox sendmail --help' for options.")
final class SendmailCommand implements Callable<Integer> {

    private final Cli cli;
    @Parameters(arity = "0..*")
    List<String> args = new ArrayList<>();

    SendmailCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() {
        return Sendmail.run(args.toArray(String[]::new), cli.in(), cli.out(), cli.err(), cli.env(), cli.defaultConfig());
    }
}
