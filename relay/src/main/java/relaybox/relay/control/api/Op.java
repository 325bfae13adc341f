package relaybox.relay.control.api;

import java.util.Optional;

/**
 * What a control request asks for, and its word on the wire ({@code "op"}). The word is the
 * CLI's and the daemon's only shared spelling of it; code on both sides uses the constant.
 */
public enum Op {
    /** Entries matching a filter, streamed one per line. */
    LIST("list"),
    /** One entry: its view, the stored record as text, and the message's header section. */
    SHOW("show"),
    /** The stored message as sent, streamed after the reply line. */
    RAW("raw"),
    DELETE("delete"),
    HOLD("hold"),
    RELEASE("release"),
    RETRY("retry"),
    REQUEUE("requeue"),
    /** Deletes failed entries. */
    PURGE("purge"),
    STATS("stats"),
    STATUS("status"),
    /** Probes each upstream without sending mail. */
    UPSTREAM_TEST("upstream-test"),
    /** The effective configuration, secrets masked. */
    CONFIG_SHOW("config-show"),
    /** Pauses one upstream, for a while or until resumed. */
    UPSTREAM_PAUSE("upstream-pause"),
    /** Ends an upstream's pause. */
    UPSTREAM_RESUME("upstream-resume");

    private final String word;

    Op(String word) {
        this.word = word;
    }

    public String word() {
        return word;
    }

    /** An action on selected entries (ids, all, or failed): delete, hold, release, retry, requeue. */
    public boolean isAction() {
        return this == DELETE || this == HOLD || this == RELEASE || this == RETRY || this == REQUEUE;
    }

    public static Optional<Op> of(String word) {
        for (Op op : values()) {
            if (op.word.equals(word)) {
                return Optional.of(op);
            }
        }
        return Optional.empty();
    }
}
