package relaybox.admin;

/**
 * Placeholder entry point of the {@code relaybox} command, so that the jar layout and the
 * packages can be built and tested before the real command lands. The admin CLI work replaces
 * this class with the picocli top-level command (run, queue, dkim, sendmail, config, status,
 * upstream); the jar's manifest names this class and must keep naming it.
 */
public final class Main {

    private Main() {
    }

    public static void main(String[] args) {
        System.err.println("usage: relaybox run|queue|dkim|sendmail|config|status|upstream ...");
        System.err.println("relaybox: this build has no commands yet (placeholder entry point)");
        System.exit(2); // sysexits-style usage error, as the real command documents
    }
}
