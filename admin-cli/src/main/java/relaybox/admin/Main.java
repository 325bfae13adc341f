package relaybox.admin;

import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Spec;

import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The {@code relaybox} command: runs the daemon ({@code run}) and is the operator's way into a
 * running one (queue, status, config, upstream test, dkim) and the applications' way to submit
 * without SMTP ({@code sendmail}). It owns argument parsing and exit codes only: every command
 * asks the daemon over the control socket and never opens the queue store, except
 * {@code --offline} while the daemon is stopped.
 *
 * <p>{@code relaybox sendmail ...} bypasses picocli entirely (see {@link Sendmail}): it is run by
 * PHP and cron for every message, so it keeps its class loading to a minimum.
 */
@Command(name = "relaybox", mixinStandardHelpOptions = true, version = "relaybox 0.1.0",
        description = "Local store-and-forward smart-host relay: run the daemon, inspect and steer its queue.")
public final class Main implements Callable<Integer> {

    /**
     * The subcommands, in the order --help lists them. Not in the annotation: picocli would build
     * the model of every one (0.19 s of reflection) for each run of, say, {@code relaybox queue
     * retry}; {@link CommandLines} adds only the one named, or all for help and usage errors.
     */
    static final class Commands {
        /** Here, not in a field of Main: sendmail's fast path must not load every command class. */
        static final Map<String, Class<?>> ALL = commands(
            "run", RunCommand.class,
            "queue", QueueCommand.class,
            "status", StatusCommand.class,
            "config", ConfigCommand.class,
            "upstream", UpstreamCommand.class,
            "sendmail", SendmailCommand.class,
            // Commands owned by other stages go here, one line each, named as in their @Command.
            "dkim", DkimCommand.class,
            "hash-password", HashPasswordCommand.class,
            "help", CommandLine.HelpCommand.class);
    }

    private static Map<String, Class<?>> commands(Object... nameThenClass) {
        Map<String, Class<?>> m = new LinkedHashMap<>();
        for (int i = 0; i < nameThenClass.length; i += 2) {
            m.put((String) nameThenClass[i], (Class<?>) nameThenClass[i + 1]);
        }
        return m;
    }

    @Spec
    CommandSpec spec;

    /** Documented in every command's --help (sendmail and dkim document their own). */
    static final Map<String, String> EXIT_CODES = new LinkedHashMap<>();

    static {
        EXIT_CODES.put("0", "ok");
        EXIT_CODES.put("1", "not found, or nothing to do (status: daemon up but degraded)");
        EXIT_CODES.put("2", "usage or configuration error");
        EXIT_CODES.put("3", "daemon unreachable (not running, or no permission on the control socket)");
    }

    public static void main(String[] args) {
        logging(args, System.getenv());
        if (args.length > 0 && args[0].equals("sendmail")) {
            // Fast path: no picocli, no Jackson; see Sendmail's class comment.
            System.exit(Sendmail.run(Arrays.copyOfRange(args, 1, args.length), System.in, System.out, System.err,
                    System.getenv(), Cli.DEFAULT_CONFIG));
        }
        System.exit(run(args, Cli.system()));
    }

    /**
     * Sets how logback writes (see logback.xml), before anything logs: a client command logs to
     * stderr, so its stdout is only its output (jq reads {@code --json} safely, also with
     * {@code --offline}, whose queue logs "queue opened"); the daemon logs to stdout, with a
     * timestamp unless systemd runs it (the journal stamps lines itself).
     */
    static void logging(String[] args, Map<String, String> env) {
        boolean daemon = args.length > 0 && args[0].equals("run");
        if (System.getProperty("relaybox.log.target") == null) {
            System.setProperty("relaybox.log.target", daemon ? "System.out" : "System.err");
        }
        boolean journal = env.containsKey("JOURNAL_STREAM") || env.containsKey("INVOCATION_ID");
        if (daemon && !journal && System.getProperty("relaybox.log.time") == null) {
            System.setProperty("relaybox.log.time", "%d{yyyy-MM-dd HH:mm:ss.SSS} ");
        }
    }

    /** Runs one command line; returns its exit code. */
    public static int run(String[] args, Cli cli) {
        if (args.length > 0 && args[0].equals("sendmail")) {
            return Sendmail.run(Arrays.copyOfRange(args, 1, args.length), cli.in(), cli.out(), cli.err(), cli.env(),
                    cli.defaultConfig());
        }
        // Picocli is touched only from here on, in another class, so the sendmail path never loads it.
        return CommandLines.create(cli, args).execute(args);
    }

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return Cli.USAGE;
    }
}
