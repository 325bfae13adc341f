package relaybox.relay.forward;

/**
 * Owns what one session's replies have said about the upstream as a whole: whether it is closing
 * the connection (a 421: the session retires) and the strongest slow-down or pause met during the
 * current send, which the worker passes on to the {@link LinkMonitor}. Each reply is judged by
 * {@link FailurePolicy} here, once, so the session and its transactions ({@link MailTransaction})
 * cannot disagree about either fact. Not thread safe: one per session.
 */
final class ReplyJudge {

    private final FailurePolicy policy;
    private boolean retire;
    /** The strongest slow-down or pause since {@link #newSend()}; null when none. */
    private FailurePolicy.Decision signal;

    ReplyJudge(FailurePolicy policy) {
        this.policy = policy;
    }

    /** What {@code r} means at {@code stage}, remembering a goodbye and the strongest signal. */
    FailurePolicy.Decision decide(Stage stage, UpstreamReply r) {
        FailurePolicy.Decision d = policy.reply(stage, r);
        if (d.retire()) {
            retire = true;
        }
        if (d.effect() != FailurePolicy.Effect.NONE
                && (signal == null || d.effect().compareTo(signal.effect()) > 0)) {
            signal = d;
        }
        return d;
    }

    /** A new message is being sent: the signal is per send, so the worker acts on each only once. */
    void newSend() {
        signal = null;
    }

    /** True once the upstream said it is closing: no further transaction goes on this session. */
    boolean retiring() {
        return retire;
    }

    FailurePolicy.Decision signal() {
        return signal;
    }
}
