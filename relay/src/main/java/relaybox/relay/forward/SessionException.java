package relaybox.relay.forward;

/**
 * A local failure of an upstream conversation: a timeout, a closed connection, an unparsable
 * reply. Its message is already phrased for the log ("timeout after 120s", "connection closed").
 */
public final class SessionException extends Exception {

    public SessionException(String message) {
        super(message);
    }

    public SessionException(String message, Throwable cause) {
        super(message, cause);
    }
}
