package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.RecipientState;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * An upstream's {@code max_recipients}: a message with more recipients goes out in several
 * transactions of at most that many, each with its own reply, and a failure in one batch touches
 * only that batch's recipients: refused ones fail, deferred ones are sent again later, delivered
 * ones never again.
 */
class RecipientBatchTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    @AutoClose
    private final Harness h = new Harness();
    private final FakeEsp esp = h.own(new FakeEsp());

    private static List<String> recipients(int n) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add("r" + i + "@x.example");
        }
        return out;
    }

    @Test
    void moreRecipientsThanTheLimitGoInSeveralTransactions() throws Exception {
        esp.rcptPerTransaction = 3;     // like Google's 100: a 4th RCPT would get 452 4.5.3
        esp.start();
        Harness.Up u = new Harness.Up("esp", esp.port());
        u.maxRecipients = 3;
        h.start(Harness.config(1, u.build()));
        QueueEntry e = h.enqueue("app@corp.example", recipients(7), Harness.message(1));
        h.await("delivered", WAIT, () -> h.queue.get(e.id()).isEmpty());
        assertEquals(List.of(recipients(7).subList(0, 3), recipients(7).subList(3, 6), recipients(7).subList(6, 7)),
                esp.received.stream().map(FakeEsp.Received::to).toList());
        assertEquals(0, esp.tooManyRecipients.get());
        assertEquals(1, esp.connections.get(), "the batches share one session");
    }

    @Test
    void aFailureInOneBatchIsHandledPerRecipient() throws Exception {
        esp.rcptPerTransaction = 3;
        // First batch (r0-r2): its final "." deferred. Second batch (r3-r5): r4 refused for good.
        esp.reply("DATA_END", "451 4.3.0 Try again later", 1);
        esp.reply("RCPT TO:<r4@", "550 5.1.1 No such user", 1);
        esp.start();
        Harness.Up u = new Harness.Up("esp", esp.port());
        u.maxRecipients = 3;
        h.start(Harness.config(1, u.build()));
        QueueEntry e = h.enqueue("app@corp.example", recipients(7), Harness.message(1));
        h.await("done", WAIT, () -> h.queue.get(e.id()).map(x -> x.state() == EntryState.FAILED).orElse(false));

        Map<String, Integer> times = new TreeMap<>();
        // (The delivery status notice for r4 goes to the sender with the null reverse-path.)
        esp.received.stream().filter(r -> !r.from().isEmpty())
                .forEach(r -> r.to().forEach(t -> times.merge(t, 1, Integer::sum)));
        Map<String, Integer> once = new TreeMap<>();
        recipients(7).stream().filter(r -> !r.startsWith("r4@")).forEach(r -> once.put(r, 1));
        assertEquals(once, times, "each deliverable recipient exactly once; r4 never");
        Map<String, RecipientState.Status> status = new TreeMap<>();
        for (RecipientState r : h.queue.get(e.id()).orElseThrow().recipients()) {
            status.put(r.address(), r.status());
        }
        assertEquals(RecipientState.Status.FAILED, status.get("r4@x.example"));
        assertEquals(6, status.values().stream().filter(s -> s == RecipientState.Status.DELIVERED).count(), status.toString());
        assertEquals(0, esp.tooManyRecipients.get());
        assertEquals(2, h.queue.get(e.id()).orElseThrow().attempts(), "the deferred batch took a second attempt");
    }
}
