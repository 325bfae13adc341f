package relaybox.admin;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.Op;
import relaybox.relay.ConfigFiles;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.RelayConfig;
import relaybox.relay.control.api.ControlWire;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/** {@code relaybox config check [FILE]} and {@code relaybox config show}. */
@Command(name = "config", mixinStandardHelpOptions = true, description = "Check a config file, or show the "
        + "daemon's effective configuration.",
        subcommands = {ConfigCommand.Check.class, ConfigCommand.Show.class, CommandLine.HelpCommand.class})
final class ConfigCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return Cli.USAGE;
    }

    /** Validates a file exactly as the daemon would at start, without starting anything. */
    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Validate a config file as the daemon would at start (default: /etc/relaybox/relaybox.conf), "
                    + "and every file it names: exists, readable by the daemon's user, safe mode, parses.")
    static final class Check implements Callable<Integer> {
        private final Cli cli;
        @Parameters(paramLabel = "FILE", arity = "0..1", description = "The file to check.")
        Path file;
        @picocli.CommandLine.Option(names = "--user", paramLabel = "NAME", defaultValue = "relaybox",
                description = "When run as root: the user the daemon runs as, who must be able to read every "
                        + "file the configuration names (default: ${DEFAULT-VALUE}).")
        String serviceUser;

        Check(Cli cli) {
            this.cli = cli;
        }

        @Override
        public Integer call() throws CliException {
            Path f = file != null ? file : cli.defaultConfig();
            try {
                RelayConfig config = RelayConfig.load(f);
                // The files it names too, as the daemon checks them at start.
                ConfigFiles files = new ConfigFiles(ConfigFiles.NO_OTHERS, false);
                if ("root".equals(System.getProperty("user.name"))) {
                    // Root reads everything: judge for the user the daemon runs as.
                    files.readableBy(ConfigFiles.ServiceUser.lookup(serviceUser));
                }
                files.check(config, w -> cli.err().println("warning: " + w));
            } catch (ConfigException e) {
                throw new CliException(Cli.USAGE, e.getMessage());
            }
            cli.out().println(f + ": ok");
            return Cli.OK;
        }
    }

    /** Asks the running daemon what it uses: defaults filled in, secrets masked. */
    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Print the running daemon's effective configuration, defaults included, secrets masked.")
    static final class Show implements Callable<Integer> {
        private final Cli cli;
        @Mixin
        ClientOptions client;

        Show(Cli cli) {
            this.cli = cli;
        }

        @Override
        public Integer call() throws CliException {
            try (Control c = client.connect(cli)) {
                String text = c.call(new ControlRequest.Plain(Op.CONFIG_SHOW)).json()
                        .path("config").asText();
                cli.out().print(text.endsWith("\n") ? text : text + "\n");
            }
            return Cli.OK;
        }
    }
}
