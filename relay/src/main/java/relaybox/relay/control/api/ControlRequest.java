package relaybox.relay.control.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.util.ArrayList;
import java.util.List;

/**
 * One request to the control socket, typed: the CLI builds one of these, the daemon's control
 * service is handed one, and only this file knows how each travels as JSON (one object with
 * {@code "op"}, {@link Op#word()}, and the request's fields in lower_snake). Values the daemon
 * must interpret with its own types (queue ids, state words, durations) travel as text and are
 * checked there, so a wrong one is answered {@code bad_request} naming the field.
 *
 * <p>Reading is lenient as the wire always was: a missing or mistyped field takes its default
 * (so a newer CLI can talk to an older daemon); only a missing or unknown {@code op} is refused.
 */
public sealed interface ControlRequest {

    Op op();

    /** This request as the JSON object sent on the socket. */
    ObjectNode toJson();

    /**
     * Which entries a listing or a purge covers; empty strings and an empty state list mean "any".
     *
     * @param states    state words (queued, deferred, held, ...)
     * @param olderThan a duration such as "2h": entries queued longer ago than that
     * @param sender    substring of the envelope sender
     * @param recipient substring of a recipient
     */
    record Filter(List<String> states, String olderThan, String sender, String recipient) {
        public static final Filter ANY = new Filter(List.of(), "", "", "");

        public Filter {
            states = List.copyOf(states);
            olderThan = olderThan == null ? "" : olderThan;
            sender = sender == null ? "" : sender;
            recipient = recipient == null ? "" : recipient;
        }

        void write(ObjectNode o) {
            if (!states.isEmpty()) {
                o.put("state", String.join(",", states));
            }
            putIfSet(o, "older_than", olderThan);
            putIfSet(o, "sender", sender);
            putIfSet(o, "recipient", recipient);
        }

        static Filter read(JsonNode o) {
            String s = o.path("state").asText("");
            List<String> states = new ArrayList<>();
            if (!s.isBlank()) {
                for (String w : s.split(",")) {
                    states.add(w.trim());
                }
            }
            return new Filter(states, o.path("older_than").asText(""), o.path("sender").asText(""),
                    o.path("recipient").asText(""));
        }
    }

    /**
     * {@code list}: entries matching {@code filter}, in queue id order, streamed.
     *
     * @param after an id: the page starts after it ("" for the first page)
     * @param limit at most this many rows (0: all); the trailer says whether more matched
     */
    record ListEntries(Filter filter, String after, long limit) implements ControlRequest {
        public ListEntries {
            after = after == null ? "" : after;
        }

        @Override
        public Op op() {
            return Op.LIST;
        }

        @Override
        public ObjectNode toJson() {
            ObjectNode o = start(op());
            filter.write(o);
            if (limit != 0) {
                o.put("limit", limit);
            }
            putIfSet(o, "after", after);
            return o;
        }
    }

    /** {@code show} (the entry, its record, its headers) or {@code raw} (the message bytes) of one entry. */
    record Show(String id, boolean raw) implements ControlRequest {
        @Override
        public Op op() {
            return raw ? Op.RAW : Op.SHOW;
        }

        @Override
        public ObjectNode toJson() {
            return start(op()).put("id", id);
        }
    }

    /**
     * An action ({@link Op#isAction()}) on the entries selected by exactly one of {@code ids},
     * {@code all} or {@code failed}; the daemon says which combinations an action takes.
     *
     * @param summary retry all: count the entries instead of listing each
     */
    record Act(Op op, List<String> ids, boolean all, boolean failed, boolean summary) implements ControlRequest {
        public Act {
            if (!op.isAction()) {
                throw new IllegalArgumentException(op.word() + " is not an action on entries");
            }
            ids = List.copyOf(ids);
        }

        public static Act ids(Op op, List<String> ids) {
            return new Act(op, ids, false, false, false);
        }

        public static Act all(Op op) {
            return new Act(op, List.of(), true, false, false);
        }

        @Override
        public ObjectNode toJson() {
            ObjectNode o = start(op);
            if (all) {
                o.put("all", true);
            }
            if (failed) {
                o.put("failed", true);
            }
            if (summary) {
                o.put("summary", true);
            }
            if (!ids.isEmpty()) {
                ArrayNode a = o.putArray("ids");
                ids.forEach(a::add);
            }
            return o;
        }
    }

    /** {@code purge}: deletes the failed entries {@code filter} selects ({@code failed} must be set). */
    record Purge(boolean failed, Filter filter) implements ControlRequest {
        @Override
        public Op op() {
            return Op.PURGE;
        }

        @Override
        public ObjectNode toJson() {
            ObjectNode o = start(op());
            if (failed) {
                o.put("failed", true);
            }
            filter.write(o);
            return o;
        }
    }

    /**
     * {@code stats}: counts, the oldest entry, throughput and links, all kept by the daemon as it
     * goes; with {@code histogram} also the qshape histogram, which walks every entry (seconds at
     * millions), so a caller that prints as it goes asks for that part second.
     */
    record Stats(boolean histogram) implements ControlRequest {
        /** Everything, histogram included. */
        public static final Stats ALL = new Stats(true);

        @Override
        public Op op() {
            return Op.STATS;
        }

        @Override
        public ObjectNode toJson() {
            ObjectNode o = start(Op.STATS);
            if (!histogram) {
                o.put("histogram", false);
            }
            return o;
        }
    }

    /** A request with nothing but its op: status, upstream-test, config-show. */
    record Plain(Op op) implements ControlRequest {
        public Plain {
            if (op != Op.STATUS && op != Op.UPSTREAM_TEST && op != Op.CONFIG_SHOW) {
                throw new IllegalArgumentException(op.word() + " takes parameters");
            }
        }

        @Override
        public ObjectNode toJson() {
            return start(op);
        }
    }

    /**
     * {@code upstream-pause} or {@code upstream-resume} of the upstream named {@code upstream}.
     *
     * @param length how long a pause lasts, a duration such as "2h"; "" until resumed (ignored by resume)
     */
    record UpstreamPause(String upstream, boolean resume, String length) implements ControlRequest {
        public UpstreamPause {
            upstream = upstream == null ? "" : upstream;
            length = length == null ? "" : length;
        }

        @Override
        public Op op() {
            return resume ? Op.UPSTREAM_RESUME : Op.UPSTREAM_PAUSE;
        }

        @Override
        public ObjectNode toJson() {
            ObjectNode o = start(op()).put("upstream", upstream);
            putIfSet(o, "for", length);
            return o;
        }
    }

    /**
     * The request a JSON object on the socket asks for.
     *
     * @throws Invalid when it names no op or one this daemon does not know
     */
    static ControlRequest fromJson(JsonNode o) throws Invalid {
        String word = o.path("op").asText("");
        Op op = Op.of(word).orElseThrow(() -> new Invalid("unknown request \"" + word + "\""));
        return switch (op) {
            case LIST -> new ListEntries(Filter.read(o), o.path("after").asText(""), o.path("limit").asLong(0));
            case SHOW, RAW -> new Show(o.path("id").asText(""), op == Op.RAW);
            case DELETE, HOLD, RELEASE, RETRY, REQUEUE -> {
                List<String> ids = new ArrayList<>();
                for (JsonNode n : o.path("ids")) {
                    ids.add(n.asText());
                }
                yield new Act(op, ids, o.path("all").asBoolean(false), o.path("failed").asBoolean(false),
                        o.path("summary").asBoolean(false));
            }
            case PURGE -> new Purge(o.path("failed").asBoolean(false), Filter.read(o));
            case STATS -> new Stats(o.path("histogram").asBoolean(true));
            case STATUS, UPSTREAM_TEST, CONFIG_SHOW -> new Plain(op);
            case UPSTREAM_PAUSE, UPSTREAM_RESUME -> new UpstreamPause(o.path("upstream").asText(""),
                    op == Op.UPSTREAM_RESUME, o.path("for").asText(""));
        };
    }

    private static ObjectNode start(Op op) {
        return ControlWire.object().put("op", op.word());
    }

    private static void putIfSet(ObjectNode o, String field, String value) {
        if (!value.isEmpty()) {
            o.put(field, value);
        }
    }

    /** The JSON is no request this side understands; answered {@code bad_request}. */
    final class Invalid extends Exception {
        public Invalid(String message) {
            super(message);
        }
    }
}
