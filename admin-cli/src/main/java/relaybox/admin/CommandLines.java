package relaybox.admin;

import picocli.CommandLine;

import java.io.PrintWriter;
import java.lang.reflect.Constructor;

/**
 * Builds the picocli command line for {@link Main}: output streams, exit-code mapping of
 * {@link CliException}, the exit-code list in every --help, and the factory that hands commands
 * their {@link Cli}. Kept out of Main so that {@code relaybox sendmail} never loads picocli.
 */
final class CommandLines {

    private CommandLines() {
    }

    /** The full command line, every subcommand included (help, usage, tests). */
    static CommandLine create(Cli cli) {
        return create(cli, new String[0]);
    }

    /** The command line for {@code args}: only the subcommand args[0] names, or all if it names none. */
    static CommandLine create(Cli cli, String[] args) {
        Factory factory = new Factory(cli);
        CommandLine cl = new CommandLine(Main.class, factory);
        // Looked up by name, not by reading each class's annotation: that would load every
        // command's nested subcommand classes too.
        Class<?> named = args.length > 0 ? Main.Commands.ALL.get(args[0]) : null;
        for (Class<?> c : Main.Commands.ALL.values()) {
            if (named == null || c == named) {
                cl.addSubcommand(new CommandLine(c, factory));
            }
        }
        cl.setOut(new PrintWriter(cli.out(), true));
        cl.setErr(new PrintWriter(cli.err(), true));
        cl.setExecutionExceptionHandler((ex, line, parsed) -> {
            if (ex instanceof CliException c) {
                cli.err().println("relaybox: " + c.getMessage());
                return c.code();
            }
            cli.err().println("relaybox: " + ex);
            return Cli.NOT_FOUND;
        });
        documentExitCodes(cl);
        CommandLine sendmail = cl.getSubcommands().get("sendmail");
        if (sendmail != null) {
            sendmail.setUnmatchedOptionsArePositionalParams(true);
        }
        return cl;
    }

    private static void documentExitCodes(CommandLine cl) {
        String name = cl.getCommandName();
        if (name.equals("dkim") || name.equals("sendmail")) {
            return;
        }
        cl.getCommandSpec().usageMessage().exitCodeListHeading("%nExit codes:%n").exitCodeList(Main.EXIT_CODES);
        cl.getSubcommands().values().forEach(CommandLines::documentExitCodes);
    }

    /** Gives commands that want it the {@link Cli}; others get their no-argument constructor. */
    private record Factory(Cli cli) implements CommandLine.IFactory {
        @Override
        public <K> K create(Class<K> cls) throws Exception {
            try {
                Constructor<K> c = cls.getDeclaredConstructor(Cli.class);
                c.setAccessible(true);
                return c.newInstance(cli);
            } catch (NoSuchMethodException e) {
                return CommandLine.defaultFactory().create(cls);
            }
        }
    }
}
