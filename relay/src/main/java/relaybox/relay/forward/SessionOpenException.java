package relaybox.relay.forward;

/** A session could not be opened; {@link #decision()} says why, classified by {@link FailurePolicy}. */
public final class SessionOpenException extends Exception {

    private final FailurePolicy.Decision decision;
    private final String upstream;

    public SessionOpenException(String upstream, FailurePolicy.Decision decision) {
        super(upstream + ": " + decision.outcome().reply());
        this.upstream = upstream;
        this.decision = decision;
    }

    public FailurePolicy.Decision decision() {
        return decision;
    }

    public String upstream() {
        return upstream;
    }
}
