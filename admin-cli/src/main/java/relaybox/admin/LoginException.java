package relaybox.admin;

/** An OAuth sign-in did not complete; the message says why, in the provider's words where it gave some. */
final class LoginException extends Exception {
    LoginException(String message) {
        super(message);
    }
}
