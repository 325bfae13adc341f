package relaybox.relay.control;

import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.InputStream;

/**
 * One answer of the control API: a JSON object, always with {@code "ok"}; on failure also
 * {@code "error"} (one of {@link #NOT_FOUND}, {@link #BAD_REQUEST}, {@link #NOT_AVAILABLE},
 * {@link #INTERNAL}) and a human {@code "message"}. A {@code raw} reply carries the stored message
 * as a stream after the JSON line; every other reply has {@code raw == null}.
 */
public record ControlReply(ObjectNode json, InputStream raw) {

    public static final String NOT_FOUND = "not_found";
    public static final String BAD_REQUEST = "bad_request";
    public static final String NOT_AVAILABLE = "not_available";
    public static final String INTERNAL = "internal";

    public static ControlReply ok(ObjectNode json) {
        json.put("ok", true);
        return new ControlReply(json, null);
    }

    public static ControlReply error(String error, String message) {
        ObjectNode n = ControlWire.object();
        n.put("ok", false);
        n.put("error", error);
        n.put("message", message);
        return new ControlReply(n, null);
    }

    public boolean ok() {
        return json.path("ok").asBoolean(false);
    }

    public String error() {
        return json.path("error").asText("");
    }

    public String message() {
        return json.path("message").asText("");
    }
}
