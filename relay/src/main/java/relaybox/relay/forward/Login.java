package relaybox.relay.forward;

/**
 * Which credential of an upstream carries a message: the upstream's own {@code auth_file} (or no
 * AUTH when it has none), one of its {@code [[upstream.login]]} tables by index, or none at all
 * (the sender matches no login and the upstream has no default: a configuration error for that
 * mail). Sessions are keyed by it: a session authenticated as one login only carries mail whose
 * login it is.
 *
 * @param index the login's position in {@code UpstreamConfig.logins()}, or {@code -1} (DEFAULT),
 *              {@code -2} (NONE)
 */
public record Login(int index) {

    /** The upstream's own auth_file, or no AUTH without one. */
    public static final Login DEFAULT = new Login(-1);
    /** No credential applies to the sender. */
    public static final Login NONE = new Login(-2);

    /** For log lines: "the default login" or "login 2". Never a user name or a secret. */
    @Override
    public String toString() {
        return index == -1 ? "the default login" : index == -2 ? "no login" : "login " + (index + 1);
    }
}
