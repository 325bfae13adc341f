package relaybox.relay.forward;

/**
 * The points of an upstream conversation at which something can go wrong. {@link FailurePolicy}
 * classifies every reply and every exception by the stage it happened in, and log lines name it.
 */
public enum Stage {
    CONNECT("connect", 0),
    GREETING("greeting", 220),
    EHLO("EHLO", 250),
    STARTTLS("STARTTLS", 220),
    AUTH("AUTH", 235),
    MAIL("MAIL", 250),
    RCPT("RCPT", 250),
    DATA("DATA", 354),
    DATA_END("DATA end", 250),
    /** Local: reading the queued message failed, or the message cannot go to this upstream. */
    MESSAGE("message", 0);

    private final String word;
    private final int expected;

    Stage(String word, int expected) {
        this.word = word;
        this.expected = expected;
    }

    /** The name used in reasons, e.g. "DATA end: timeout after 600s". Log lines use {@link #name()}. */
    public String word() {
        return word;
    }

    /** True for the stages of opening a session; a failure there is a failure of the upstream. */
    public boolean isSessionSetup() {
        return ordinal() <= AUTH.ordinal();
    }

    /** True when {@code code} is the success reply at this stage (RCPT also takes 251). */
    boolean accepts(int code) {
        return code == expected || (this == RCPT && code == 251);
    }

    @Override
    public String toString() {
        return word;
    }
}
