package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.SenderLogin;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

/**
 * The hand-off with per-sender logins: a session's login takes its own entries from the backlog
 * first (and only those are sent ahead), but the backlog's head waits behind at most
 * {@link Dispatcher#AHEAD_PER_SESSION} of them, so a busy login cannot hold another's mail back.
 */
class UpstreamHandOffTest {

    @AutoClose
    private final Harness h = new Harness();

    @Test
    void aBusyLoginPassesTheHeadAtMostAFewTimes() throws Exception {
        Harness.Up up = new Harness.Up("u", 25);
        up.authFile = Path.of("/s/default");
        up.logins = List.of(new SenderLogin(List.of("a.example"), Path.of("/s/a"), ""));
        Upstream u = new Upstream(up.build(), null);
        QueueEntry head = h.enqueue("other@b.example", List.of("r@x.example"), Harness.message(0));
        u.submit(head, java.time.Instant.EPOCH);
        for (int i = 1; i <= 20; i++) {
            u.submit(h.enqueue("x@a.example", List.of("r@x.example"), Harness.message(i)), java.time.Instant.EPOCH);
        }
        Login a = new Login(0);
        for (int i = 0; i < Dispatcher.AHEAD_PER_SESSION; i++) {
            assertEquals(a, u.loginFor(u.take(a)), "a session of login a takes its own entries");
        }
        assertNull(u.take(a), "the head has waited enough");
        assertEquals(head, u.take(Login.DEFAULT));
        assertEquals(a, u.loginFor(u.take(a)), "after the head, login a goes on");
    }
}
