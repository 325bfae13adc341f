package relaybox.relay.forward;

import relaybox.queue.DeliveryOutcome;

import java.util.Objects;
import java.util.regex.Pattern;

/**
 * One recipient's result of an attempt, classified once and carried as data: the stage it came
 * from, its class, what caused it, the enhanced status code and the literal reply. Only
 * {@link FailurePolicy} makes them (every other place asks it), so nothing downstream (the mail
 * log, the metrics, the queue) ever reads a decision back out of the reply text.
 *
 * @param stage  where in the conversation it happened; log lines name it
 * @param kind   delivered, temporary, permanent, or configuration (temporary, the relay's fault)
 * @param cause  an upstream reply or a local failure, for the metrics' {@code reply_class}
 * @param status the enhanced status code (RFC 3463), "" when the reply carried none
 * @param reply  the upstream's literal reply, or for a local failure the stage and what happened
 */
public record Outcome(Stage stage, Kind kind, Cause cause, String status, String reply) {

    /** What the outcome means for the recipient. */
    public enum Kind {
        DELIVERED,
        /** Try again later. Anything that cannot be classified ends up here. */
        TEMPORARY,
        /** Never retried for this recipient. */
        PERMANENT,
        /** Temporary, and the relay's configuration or account is at fault (logged at ERROR). */
        CONFIGURATION
    }

    /** Where the outcome came from: the {@code reply_class} label of the metrics. */
    public enum Cause {
        REPLY_2XX("2xx"), REPLY_4XX("4xx"), REPLY_5XX("5xx"), REPLY_OTHER("other"), TIMEOUT("timeout"), TLS("tls"),
        IO("io");

        private final String label;

        Cause(String label) {
            this.label = label;
        }

        /** The metrics label; one of {@code RelayMetrics.REPLY_CLASSES}. */
        public String label() {
            return label;
        }

        /** A reply's cause; a 2xx where it was not the success reply (a 250 to DATA) is "other". */
        static Cause of(UpstreamReply r, boolean accepted) {
            return switch (r.code() / 100) {
                case 2 -> accepted ? REPLY_2XX : REPLY_OTHER;
                case 4 -> REPLY_4XX;
                case 5 -> REPLY_5XX;
                default -> REPLY_OTHER;
            };
        }
    }

    private static final Pattern ENHANCED = Pattern.compile("[245]\\.\\d{1,3}\\.\\d{1,3}");

    public Outcome {
        Objects.requireNonNull(stage);
        Objects.requireNonNull(kind);
        Objects.requireNonNull(cause);
        Objects.requireNonNull(status);
        Objects.requireNonNull(reply);
    }

    /** The same outcome recorded at another stage (a refused MAIL explains what followed it). */
    Outcome at(Stage s) {
        return s == stage ? this : new Outcome(s, kind, cause, status, reply);
    }

    public boolean delivered() {
        return kind == Kind.DELIVERED;
    }

    /** What the queue records: its three dispositions and the literal reply. */
    public DeliveryOutcome toQueue() {
        return switch (kind) {
            case DELIVERED -> new DeliveryOutcome.Delivered(reply);
            case PERMANENT -> new DeliveryOutcome.Failed(reply);
            case TEMPORARY, CONFIGURATION -> new DeliveryOutcome.Deferred(reply);
        };
    }

    /** The enhanced status code at the start of a reply's text, or "". */
    static String enhancedStatus(UpstreamReply r) {
        if (r.lines().isEmpty()) {
            return "";
        }
        String first = r.lines().get(0);
        int sp = first.indexOf(' ');
        String token = sp < 0 ? first : first.substring(0, sp);
        return ENHANCED.matcher(token).matches() && token.charAt(0) == Character.forDigit(r.code() / 100, 10)
                ? token : "";
    }
}
