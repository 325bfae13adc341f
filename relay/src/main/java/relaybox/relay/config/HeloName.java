package relaybox.relay.config;

import java.net.Inet6Address;
import java.net.InetAddress;
import java.net.UnknownHostException;

/**
 * The name relaybox sends in EHLO when {@code forward_helo_name} is "": this machine's fully
 * qualified name, else {@code intake_hostname} if that is one, else the address literal
 * ({@code [192.0.2.7]}, RFC 5321 4.1.3). Never "localhost": ESPs and spam filters score a bare
 * or local EHLO name, and a host whose name has no dot used to send exactly that.
 */
public final class HeloName {

    private HeloName() {
    }

    /** Looks the machine up (its canonical name, its address) and picks. */
    public static String resolve(String intakeHostname) {
        String fqdn = "";
        InetAddress self = null;
        try {
            self = InetAddress.getLocalHost();
            fqdn = self.getCanonicalHostName();
        } catch (UnknownHostException e) {
            // Neither name nor address: the literal of the loopback address is all that is left.
        }
        return pick(fqdn, intakeHostname, self);
    }

    /** The choice itself, pure: table-tested in {@code HeloNameTest}. */
    static String pick(String fqdn, String intakeHostname, InetAddress address) {
        if (isDomain(fqdn)) {
            return fqdn;
        }
        if (isDomain(intakeHostname)) {
            return intakeHostname;
        }
        InetAddress a = address != null ? address : InetAddress.getLoopbackAddress();
        return a instanceof Inet6Address ? "[IPv6:" + a.getHostAddress().replaceAll("%.*$", "") + "]"
                : "[" + a.getHostAddress() + "]";
    }

    /** A dotted name that is not an address and not localhost.localdomain-style. */
    private static boolean isDomain(String name) {
        if (name == null || !name.contains(".") || name.endsWith(".") || name.startsWith("localhost")) {
            return false;
        }
        return !name.matches("[0-9.]+") && !name.contains(":");
    }
}
