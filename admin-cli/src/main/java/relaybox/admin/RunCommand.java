package relaybox.admin;

import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Unmatched;
import relaybox.relay.RelayDaemon;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code relaybox run}: the daemon in the foreground (what the systemd unit starts). */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the relay daemon in the foreground (systemd starts this).")
final class RunCommand implements Callable<Integer> {

    @Option(names = "--config", paramLabel = "FILE", description = "Config file (default /etc/relaybox/relaybox.conf).")
    Path config;
    @Option(names = "--dev", description = "Development defaults: SMTP on 127.0.0.1:2525, queue in ./relaybox-data, "
            + "mail written to ./relaybox-data/outbox instead of an upstream.")
    boolean dev;
    @Unmatched
    List<String> rest = new ArrayList<>();

    @Override
    public Integer call() {
        List<String> args = new ArrayList<>(List.of("run"));
        if (dev) {
            args.add("--dev");
        } else {
            args.add("--config");
            args.add(config == null ? "/etc/relaybox/relaybox.conf" : config.toString());
        }
        args.addAll(rest);
        // The daemon owns its exit status (it exits itself on a config error or at shutdown).
        RelayDaemon.main(args.toArray(String[]::new));
        return Cli.OK;
    }
}
