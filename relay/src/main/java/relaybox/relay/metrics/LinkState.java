package relaybox.relay.metrics;

import java.util.Locale;

/**
 * The state of the link to one upstream, as the forwarder sees it: the words used in the metrics
 * ({@code relaybox_upstream_link_state{state="down"}}), in {@code /healthz} and in the docs.
 */
public enum LinkState {
    /** Sessions connect and the upstream takes mail. */
    UP,
    /** The upstream cannot be reached or refuses us; mail is buffered in the queue. */
    DOWN,
    /** After DOWN: a probe connection is checking whether the upstream is back. */
    PROBING,
    /**
     * The upstream refused our configuration (AUTH, certificate, STARTTLS): probed at growing
     * intervals up to 15 minutes, so a bad password does not lock the account.
     */
    BACKOFF,
    /**
     * Paused by an operator or by the upstream's own reply (a used-up daily quota, sender
     * throttling): no session is opened until the pause ends; its mail waits or fails over.
     */
    PAUSED;

    public String word() {
        return name().toLowerCase(Locale.ROOT);
    }
}
