package relaybox.relay.intake;

/**
 * What the intake must know about the upstreams before it accepts a message, without speaking to
 * them (only the forwarder does): the largest message they take, from the SIZE they last
 * advertised, and the verified identity a sender's From: is rewritten to. The forwarder's side
 * implements it ({@code relaybox.relay.forward.IntakeView}); the intake only asks.
 */
public interface UpstreamFacts {

    /** No upstream limits and no From rewrite: the intake's own settings alone. */
    UpstreamFacts NONE = new UpstreamFacts() {
        @Override
        public long largestMessage() {
            return Limit.NONE.bytes();
        }

        @Override
        public Limit limitFor(String sender) {
            return Limit.NONE;
        }

        @Override
        public String fromRewrite(String sender) {
            return "";
        }
    };

    /**
     * The largest message the upstreams take.
     *
     * @param bytes    the whole message as relaybox sends it (its added header lines included);
     *                 {@link Long#MAX_VALUE} when no limit is known
     * @param upstream the upstream whose limit it is, for the reply; "" for none
     */
    record Limit(long bytes, String upstream) {
        public static final Limit NONE = new Limit(Long.MAX_VALUE, "");
    }

    /** The largest message any upstream takes, for EHLO's SIZE; {@link Long#MAX_VALUE} when unknown. */
    long largestMessage();

    /** The largest message the upstreams that would carry mail from {@code sender} take. */
    Limit limitFor(String sender);

    /** The identity mail from {@code sender} gets in From: ("" for no rewrite). */
    String fromRewrite(String sender);
}
