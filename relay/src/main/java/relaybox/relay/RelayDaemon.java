package relaybox.relay;

/**
 * XXX(admin): STUB so that {@code relaybox run} compiles before the intake branch's real
 * RelayDaemon is merged. The lead replaces this file with the intake branch's version on merge
 * (take theirs); nothing else depends on more than {@code main(String[])}.
 */
public final class RelayDaemon {

    private RelayDaemon() {
    }

    public static void main(String[] args) {
        System.err.println("relaybox run: the daemon is not part of this build yet (RelayDaemon stub)");
        System.exit(2);
    }
}
