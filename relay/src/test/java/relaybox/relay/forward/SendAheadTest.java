package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The next message's MAIL, RCPT and DATA behind the final "." (RFC 2920): one round trip per
 * message, and what each failure after the "." does to the message that was sent ahead.
 */
class SendAheadTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    @AutoClose
    private final Harness h = new Harness();
    private final FakeEsp esp = h.own(new FakeEsp());

    private List<QueueEntry> backlog(int n) throws Exception {
        List<QueueEntry> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(i)));
        }
        return out;
    }

    private void start() throws Exception {
        h.start(Harness.config(1, new Harness.Up("esp", esp.port()).build()));
    }

    @Test
    void theNextMessagesCommandsFollowTheFinalDot() throws Exception {
        esp.start();
        esp.endReplyDelayMillis = 20;
        backlog(20);
        start();
        h.await("all delivered", WAIT, () -> esp.received.size() == 20 && h.queue.list().isEmpty());
        assertEquals(1, esp.connections.get());
        assertTrue(esp.commandsBeforeEndReply.get() >= 15,
                "most next commands arrived before the previous 250: " + esp.commandsBeforeEndReply.get());
        Set<String> bodies = esp.received.stream().map(r -> new String(r.data(), StandardCharsets.UTF_8))
                .map(t -> t.substring(t.indexOf("Subject: "))).collect(Collectors.toSet());
        for (int i = 0; i < 20; i++) {
            assertTrue(bodies.contains(Harness.message(i).substring(Harness.message(i).indexOf("Subject: "))),
                    "message " + i + " arrived intact");
        }
        assertEquals(List.of(), h.linesWith(" forward deferred "));
    }

    @Test
    void withoutPipeliningEachMessageWaitsForItsReply() throws Exception {
        esp.start();
        esp.pipelining = false;
        esp.endReplyDelayMillis = 20;
        backlog(5);
        start();
        h.await("all delivered", WAIT, () -> esp.received.size() == 5 && h.queue.list().isEmpty());
        assertEquals(0, esp.commandsBeforeEndReply.get());
    }

    @Test
    void a421AfterTheDotCostsTheMessageSentAheadNothing() throws Exception {
        esp.start();
        esp.reply("DATA_END", "421 4.3.2 Service shutting down", 1);
        String deferred = onlyTheFirstIsDeferred();
        assertTrue(deferred.contains("421 4.3.2"), deferred);
        assertEquals(2, esp.connections.get(), "the 421 retired the session");
    }

    @Test
    void aDropAfterTheDotCostsTheMessageSentAheadNothing() throws Exception {
        esp.start();
        esp.rule("DATA_END", "close", 1);
        String deferred = onlyTheFirstIsDeferred();
        assertTrue(deferred.contains("connection closed"), deferred);
    }

    /**
     * Three messages on one session, the first one's "." answered badly: all three arrive, and
     * only the first spends an attempt. Returns its deferred line.
     */
    private String onlyTheFirstIsDeferred() throws Exception {
        esp.endReplyDelayMillis = 20;
        List<QueueEntry> e = backlog(3);
        start();
        h.await("all delivered", WAIT, () -> esp.received.size() == 3 && h.queue.list().isEmpty());
        List<String> deferred = h.linesWith(" forward deferred ");
        assertEquals(1, deferred.size(), h.lines.toString());
        assertTrue(deferred.get(0).startsWith(e.get(0).id() + " "), deferred.get(0));
        return deferred.get(0);
    }

    @Test
    void aRefusalAfterTheDotFailsThatMessageAndTheNextGoesOnTheSameConnection() throws Exception {
        esp.start();
        esp.endReplyDelayMillis = 20;
        esp.reply("DATA_END", "550 5.7.1 Message rejected", 1);
        List<QueueEntry> e = backlog(3);
        start();
        h.await("the others delivered", WAIT, () -> h.lines.contains(e.get(1).id() + " queue removed")
                && h.lines.contains(e.get(2).id() + " queue removed"));
        assertEquals(EntryState.FAILED, h.queue.get(e.get(0).id()).orElseThrow().state());
        assertEquals(List.of(), h.linesWith(" forward deferred "));
        assertEquals(1, esp.connections.get());
        assertEquals(0, esp.count("RSET"), "the final dot ended the refused transaction: no RSET is due");
    }
}
