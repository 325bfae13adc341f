package relaybox.admin;

import java.io.InputStream;
import java.io.PrintStream;
import java.nio.file.Path;
import java.util.Map;

/**
 * What a command may touch of the outside world: standard streams and the environment. Passed
 * in rather than read from {@code System} so tests run every command in process.
 *
 * @param defaultConfig the config file used when --config is not given
 */
public record Cli(InputStream in, PrintStream out, PrintStream err, Map<String, String> env, Path defaultConfig) {

    public static final Path DEFAULT_CONFIG = Path.of("/etc/relaybox/relaybox.conf");

    /** Exit codes of every admin command (sendmail uses sysexits instead). */
    public static final int OK = 0;
    public static final int NOT_FOUND = 1;
    public static final int USAGE = 2;
    public static final int UNREACHABLE = 3;

    public static Cli system() {
        return new Cli(System.in, System.out, System.err, System.getenv(), DEFAULT_CONFIG);
    }
}
