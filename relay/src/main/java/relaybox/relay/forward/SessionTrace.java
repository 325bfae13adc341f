package relaybox.relay.forward;

/**
 * Hears each step of opening an upstream session (connect, greeting, EHLO, STARTTLS,
 * certificate, AUTH, limits) with its result, for {@code relaybox upstream test}. The forwarder's
 * own sessions use {@link #NONE}. The session calls it on its own thread, in order; a failed step
 * is the last one.
 */
@FunctionalInterface
public interface SessionTrace {

    SessionTrace NONE = (step, ok, detail) -> { };

    /**
     * @param step   "connect", "greeting", "ehlo", "starttls", "certificate", "auth", "limits"
     * @param ok     whether it succeeded
     * @param detail what happened, in plain words: the peer's reply, the certificate, the error
     */
    void step(String step, boolean ok, String detail);
}
