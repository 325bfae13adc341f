package relaybox.admin;

import picocli.CommandLine.Command;
import picocli.CommandLine.Parameters;
import relaybox.relay.intake.Credentials;

import java.io.ByteArrayOutputStream;
import java.io.Console;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.concurrent.Callable;

/**
 * {@code relaybox hash-password [USER]}: prints what an {@code intake_auth_credentials} line holds
 * for a password ({@code pbkdf2-sha256:ITERATIONS:SALT:HASH}, or the whole {@code USER:...} line).
 * The password is read from the terminal without echo, typed twice, or else as the first line of
 * standard input (for scripts), never from the command line, where ps and the shell's history
 * would see it. Needs no daemon and no config file.
 */
@Command(name = "hash-password", mixinStandardHelpOptions = true,
        description = {"Hash a password for intake_auth_credentials (read from the terminal without echo, "
                + "or the first line of standard input).",
                "Prints pbkdf2-sha256:ITERATIONS:SALT:HASH, or USER:pbkdf2-sha256:... when USER is given."})
final class HashPasswordCommand implements Callable<Integer> {

    /** A line longer than this is not a password someone typed; refuse rather than hash a file. */
    static final int MAX_PASSWORD_BYTES = 1024;

    private final Cli cli;
    @Parameters(paramLabel = "USER", arity = "0..1", description = "Print a whole credentials line for this user.")
    String user;

    HashPasswordCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws CliException {
        if (user != null && (user.isEmpty() || user.contains(":") || user.chars().anyMatch(c -> c <= ' '))) {
            throw new CliException(Cli.USAGE, "a user name has no ':', spaces or control characters: " + user);
        }
        String password = cli.in() == System.in && System.console() != null ? fromTerminal(System.console())
                : firstLine(cli.in());
        if (password.isEmpty()) {
            throw new CliException(Cli.USAGE, "empty password (give it on standard input, or type it at the prompt)");
        }
        String hash = Credentials.hash(password);
        cli.out().println(user == null ? hash : user + ":" + hash);
        return Cli.OK;
    }

    private static String fromTerminal(Console console) throws CliException {
        char[] first = console.readPassword("Password: ");
        char[] again = console.readPassword("Again: ");
        if (first == null || again == null) {
            throw new CliException(Cli.USAGE, "no password read");
        }
        try {
            if (!Arrays.equals(first, again)) {
                throw new CliException(Cli.USAGE, "the two passwords differ");
            }
            return new String(first);
        } finally {
            Arrays.fill(first, '\0');
            Arrays.fill(again, '\0');
        }
    }

    /** The first line of {@code in}, without its line end; the rest is not read. */
    static String firstLine(InputStream in) throws CliException {
        ByteArrayOutputStream line = new ByteArrayOutputStream();
        try {
            for (int c = in.read(); c != -1 && c != '\n'; c = in.read()) {
                if (line.size() == MAX_PASSWORD_BYTES) {
                    throw new CliException(Cli.USAGE, "password longer than " + MAX_PASSWORD_BYTES + " bytes");
                }
                line.write(c);
            }
        } catch (IOException e) {
            throw new CliException(Cli.USAGE, "cannot read the password: " + e.getMessage());
        }
        String s = line.toString(StandardCharsets.UTF_8);
        return s.endsWith("\r") ? s.substring(0, s.length() - 1) : s;
    }
}
