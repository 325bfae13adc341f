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

    static CommandLine create(Cli cli) {
        CommandLine cl = new CommandLine(Main.class, new Factory(cli));
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
        cl.getSubcommands().get("sendmail").setUnmatchedOptionsArePositionalParams(true);
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
