package relaybox.relay.control.api;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** Every request reads back from its JSON as itself, and the JSON is what the daemon always read. */
class ControlRequestTest {

    private static final List<ControlRequest> EVERY_KIND = List.of(
            new ControlRequest.ListEntries(ControlRequest.Filter.ANY, "", 0),
            new ControlRequest.ListEntries(new ControlRequest.Filter(List.of("deferred", "held"), "2h", "a@", "@b"),
                    "0000000000AB", 100),
            new ControlRequest.Show("0000000000AB", false),
            new ControlRequest.Show("0000000000AB", true),
            ControlRequest.Act.ids(Op.HOLD, List.of("0000000000AB", "0000000000AC")),
            ControlRequest.Act.all(Op.RELEASE),
            new ControlRequest.Act(Op.RETRY, List.of(), true, false, true),
            new ControlRequest.Act(Op.REQUEUE, List.of(), false, true, false),
            new ControlRequest.Purge(true, new ControlRequest.Filter(List.of(), "5d", "", "")),
            ControlRequest.Stats.ALL,
            new ControlRequest.Stats(false),
            new ControlRequest.Plain(Op.STATUS),
            new ControlRequest.Plain(Op.UPSTREAM_TEST),
            new ControlRequest.Plain(Op.CONFIG_SHOW));

    @Test
    void everyRequestRoundTrips() throws Exception {
        for (ControlRequest r : EVERY_KIND) {
            JsonNode wire = ControlWire.parse(ControlWire.bytes(r.toJson()));
            assertEquals(r, ControlRequest.fromJson(wire), wire.toString());
            assertEquals(r.op().word(), wire.path("op").asText(), wire.toString());
        }
    }

    @Test
    void theWireKeepsItsFieldNames() {
        assertEquals("{\"op\":\"list\",\"state\":\"deferred,held\",\"older_than\":\"2h\",\"sender\":\"a@\","
                + "\"recipient\":\"@b\",\"limit\":100,\"after\":\"0000000000AB\"}",
                ControlWire.text(EVERY_KIND.get(1).toJson()));
        assertEquals("{\"op\":\"retry\",\"all\":true,\"summary\":true}", ControlWire.text(EVERY_KIND.get(6).toJson()));
        assertEquals("{\"op\":\"hold\",\"ids\":[\"0000000000AB\",\"0000000000AC\"]}",
                ControlWire.text(EVERY_KIND.get(4).toJson()));
        // An older CLI's stats request has no "histogram": it still gets the histogram.
        assertEquals("{\"op\":\"stats\"}", ControlWire.text(ControlRequest.Stats.ALL.toJson()));
        assertEquals("{\"op\":\"stats\",\"histogram\":false}",
                ControlWire.text(new ControlRequest.Stats(false).toJson()));
    }

    @Test
    void anUnknownOrMissingOpIsRefusedAndNothingElseIs() throws Exception {
        assertEquals("unknown request \"frobnicate\"", assertThrows(ControlRequest.Invalid.class,
                () -> ControlRequest.fromJson(ControlWire.parse("{\"op\":\"frobnicate\"}".getBytes()))).getMessage());
        assertThrows(ControlRequest.Invalid.class, () -> ControlRequest.fromJson(ControlWire.parse("{}".getBytes())));
        // Mistyped fields take their defaults, as the daemon always read them; it checks the values.
        assertEquals(new ControlRequest.ListEntries(ControlRequest.Filter.ANY, "", 0),
                ControlRequest.fromJson(ControlWire.parse("{\"op\":\"list\",\"limit\":\"x\",\"extra\":1}".getBytes())));
    }
}
