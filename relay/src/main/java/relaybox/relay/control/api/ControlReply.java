package relaybox.relay.control.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.io.InputStream;

/**
 * One answer of the control API: a JSON object, always with {@code "ok"}; on failure also
 * {@code "error"} (a {@link ControlError}'s word) and a human {@code "message"}. A {@code raw} reply carries the stored message
 * as a stream after the JSON line. A streamed reply ({@code rows}, for {@code list}) carries one
 * JSON object per line after the head and ends with a trailer line holding {@code "end": true};
 * the rows are produced (daemon side) or read (client side) one at a time, never held whole.
 */
public record ControlReply(ObjectNode json, InputStream raw, Rows rows) {

    /** Rows of a streamed reply, visited once. */
    public interface Rows {
        /**
         * Hands each row to {@code visitor} until it returns false or the rows end; returns the
         * trailer (counts, the last id, whether more rows matched than were sent).
         */
        ObjectNode forEach(RowVisitor visitor) throws IOException;
    }

    /** Takes one row; false stops the stream. */
    public interface RowVisitor {
        boolean row(JsonNode row) throws IOException;
    }

    public ControlReply(ObjectNode json, InputStream raw) {
        this(json, raw, null);
    }

    public static ControlReply ok(ObjectNode json) {
        json.put("ok", true);
        return new ControlReply(json, null, null);
    }

    /** A reply whose rows follow the head line, one per line. */
    public static ControlReply stream(ObjectNode head, Rows rows) {
        head.put("ok", true);
        head.put("stream", true);
        return new ControlReply(head, null, rows);
    }

    public static ControlReply error(ControlError error, String message) {
        ObjectNode n = ControlWire.object();
        n.put("ok", false);
        n.put("error", error.word());
        n.put("message", message);
        return new ControlReply(n, null, null);
    }

    public boolean ok() {
        return json.path("ok").asBoolean(false);
    }

    /** Why the request was refused; null when it was not. */
    public ControlError error() {
        return ok() ? null : ControlError.of(json.path("error").asText(""));
    }

    public String message() {
        return json.path("message").asText("");
    }
}
