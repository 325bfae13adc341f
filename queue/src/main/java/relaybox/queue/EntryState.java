package relaybox.queue;

/**
 * The states of a queue entry. {@link QueueEntry} holds the transitions; this enum holds only
 * the names, which are also the words used in the log, the admin CLI and the docs.
 */
public enum EntryState {
    /** Accepted and durable; waiting for its first attempt or for a release/retry. */
    QUEUED,
    /** Leased by the dispatcher; a forwarder is working on it. Never persisted as such. */
    SENDING,
    /** At least one recipient got a temporary failure; waiting for nextAttemptAt. */
    DEFERRED,
    /** Put aside by an operator; never leased until released. */
    HELD,
    /** No recipient pending and at least one failed permanently; kept until deleted. */
    FAILED,
    /** Every recipient delivered; the entry is removed in the same commit. */
    DELIVERED,
    /** The entry or its message cannot be used (damaged record, missing spool file); kept aside. */
    QUARANTINED;

    public String word() {
        return name().toLowerCase(java.util.Locale.ROOT);
    }
}
