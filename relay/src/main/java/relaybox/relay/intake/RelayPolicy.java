package relaybox.relay.intake;

import relaybox.relay.config.Cidr;

import java.net.InetAddress;
import java.util.List;

/**
 * Owns the one relay decision: mail is accepted only from the configured client networks
 * ({@code intake_networks}, default loopback only) or from a client that authenticated (which
 * the intake allows only over TLS). Everything else is refused with 554 5.7.1, so relaybox is
 * never an open relay. Pure and immutable, so it is tested with plain addresses.
 */
public final class RelayPolicy {

    private final List<Cidr> networks;

    public RelayPolicy(List<Cidr> networks) {
        this.networks = List.copyOf(networks);
    }

    /** May this client relay? {@code authenticated}: it passed AUTH in this session. */
    public boolean allows(InetAddress client, boolean authenticated) {
        if (authenticated) {
            return true;
        }
        for (Cidr c : networks) {
            if (c.contains(client)) {
                return true;
            }
        }
        return false;
    }
}
