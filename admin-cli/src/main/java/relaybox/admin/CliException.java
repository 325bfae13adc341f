package relaybox.admin;

/** Ends a command with {@code code} after printing {@code message} on stderr. */
public final class CliException extends Exception {

    private final int code;

    public CliException(int code, String message) {
        super(message);
        this.code = code;
    }

    public int code() {
        return code;
    }
}
