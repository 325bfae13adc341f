package relaybox.relay.control.api;

/**
 * Why the daemon refused a control request, as the reply's {@code "error"} word. The CLI maps
 * each to an exit code: a bad request is a usage error (2), the others "not found / cannot" (1).
 */
public enum ControlError {
    /** No such entry. */
    NOT_FOUND("not_found"),
    /** The request itself is wrong: unknown op, bad id, bad filter, conflicting selectors. */
    BAD_REQUEST("bad_request"),
    /** The daemon cannot answer this one now (no upstream tester, message unreadable). */
    NOT_AVAILABLE("not_available"),
    /** A bug or an unexpected failure in the daemon; its log has the details. */
    INTERNAL("internal");

    private final String word;

    ControlError(String word) {
        this.word = word;
    }

    public String word() {
        return word;
    }

    /** The error a reply names; a word this CLI does not know (a newer daemon's) reads as INTERNAL. */
    public static ControlError of(String word) {
        for (ControlError e : values()) {
            if (e.word.equals(word)) {
                return e;
            }
        }
        return INTERNAL;
    }
}
