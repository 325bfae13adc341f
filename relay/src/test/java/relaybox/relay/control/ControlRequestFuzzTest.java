package relaybox.relay.control;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.memory.InMemoryQueue;
import relaybox.relay.control.api.ControlReply;
import relaybox.relay.log.MailLog;

import java.time.Clock;
import java.time.Instant;
import java.util.List;

/**
 * Fuzzes the control socket's requests: any JSON (and anything that is not) handed to
 * {@link ControlService#handle} over a queue with a few entries. Every request must get a reply,
 * an error reply at worst, and never throw: a bad request from the CLI must not hurt the daemon.
 */
class ControlRequestFuzzTest {

    private static ControlService service;

    private static final String[] OPS = {"list", "show", "raw", "delete", "hold", "release", "retry", "requeue",
        "stats", "status", "config-show", "nonsense"};
    private static final String[] FIELDS = {"op", "id", "ids", "all", "failed", "state", "older_than", "sender",
        "recipient", "extra"};

    /**
     * Half raw JSON text, half requests assembled from the real ops and fields with fuzzed values
     * (Jackson is not instrumented, so raw text rarely makes a valid request). "upstream-test" is
     * left out: it would dial the network.
     */
    @FuzzTest(maxDuration = "30s")
    void controlRequests(FuzzedDataProvider in) throws Exception {
        JsonNode request;
        if (in.consumeBoolean()) {
            try {
                request = ControlJson.MAPPER.readTree(in.consumeRemainingAsString());
            } catch (JsonProcessingException e) {
                return;   // the server answers unparseable lines with bad_request before handle()
            }
            if (request == null || request.path("op").asText().equals("upstream-test")) {
                return;
            }
        } else {
            ObjectNode o = ControlJson.MAPPER.createObjectNode();
            o.put("op", in.pickValue(OPS));
            int n = in.consumeInt(0, 5);
            for (int i = 0; i < n; i++) {
                String f = in.pickValue(FIELDS);
                switch (in.consumeInt(0, 4)) {
                    case 0 -> o.put(f, in.consumeBoolean());
                    case 1 -> o.put(f, in.consumeLong());
                    case 2 -> o.putArray(f).add(in.consumeString(20)).add(in.consumeInt());
                    case 3 -> o.putNull(f);
                    default -> o.put(f, in.consumeString(30));
                }
            }
            if (o.path("op").asText().equals("upstream-test")) {
                return;
            }
            request = o;
        }
        ControlReply r = service().handle(request, "fuzz");
        if (r == null || r.json() == null) {
            throw new AssertionError("no reply to " + request);
        }
        if (r.raw() != null) {
            r.raw().close();
        }
    }

    private static synchronized ControlService service() throws Exception {
        if (service == null) {
            Queue q = new InMemoryQueue();
            for (int i = 0; i < 3; i++) {
                Queue.Incoming inc = q.receive();
                inc.body().write(("Subject: " + i + "\r\n\r\nbody\r\n").getBytes());
                q.accept(inc, Envelope.of("a@b.example", List.of("c@d.example")), "");
            }
            service = new ControlService(q, StatusSource.none(Instant.now()), List::of, () -> "config", new MailLog(),
                    Clock.systemUTC());
        }
        return service;
    }
}
