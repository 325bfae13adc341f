package relaybox.relay.forward;

/**
 * One SASL mechanism as an SMTP client speaks it (RFC 4954): PLAIN, LOGIN, XOAUTH2. A mechanism
 * owns its own exchange, from the AUTH command to the final reply, and nothing else: which one is
 * used is {@link AuthSelection}'s decision, and what the final reply means is
 * {@link FailurePolicy}'s. It is only ever run after TLS (or towards a loopback tunnel).
 * Secrets go out through {@link Dialog#send} and are never logged or put in a reply text.
 */
interface AuthMechanism {

    /** Sends a line and reads the upstream's reply to it. */
    @FunctionalInterface
    interface Dialog {
        UpstreamReply send(String line) throws SessionException;
    }

    /** A secret needed for the exchange could not be had (an access token could not be fetched). */
    final class Unavailable extends Exception {
        private final boolean configuration;

        /**
         * @param configuration true when the cause is the configuration or the account (a refused
         *                      refresh token), false for a link failure (token endpoint unreachable)
         */
        Unavailable(String message, boolean configuration) {
            super(message);
            this.configuration = configuration;
        }

        boolean configuration() {
            return configuration;
        }
    }

    /** The name as EHLO offers it ("PLAIN"). */
    String name();

    /** Who authenticates, for {@code upstream test} (never a secret). */
    String identity();

    /** Runs the exchange and returns the upstream's final reply (235, or its refusal). */
    UpstreamReply authenticate(Dialog dialog) throws SessionException, Unavailable;

    /** The upstream refused the credentials: a mechanism with cached secrets drops them. */
    default void refused() {
    }
}
