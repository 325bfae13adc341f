package relaybox.relay.forward;

import java.util.List;

/**
 * One reply from the upstream, as received: the code and the text of each line. Its
 * {@link #toString()} is the literal reply that log lines and recorded outcomes carry, because
 * that is what operators paste into an ESP's support ticket.
 *
 * @param code  the three-digit reply code
 * @param lines the text after the code on each line, without the separator
 */
public record UpstreamReply(int code, List<String> lines) {

    public UpstreamReply {
        lines = List.copyOf(lines);
    }

    public static UpstreamReply of(int code, String text) {
        return new UpstreamReply(code, List.of(text));
    }

    public boolean isPositive() {
        return code >= 200 && code < 400;
    }

    public boolean isTemporary() {
        return code >= 400 && code < 500;
    }

    public boolean isPermanent() {
        return code >= 500 && code < 600;
    }

    /** All lines' text joined with single spaces. */
    public String text() {
        return String.join(" ", lines);
    }

    @Override
    public String toString() {
        String t = text();
        return t.isEmpty() ? Integer.toString(code) : code + " " + t;
    }
}
