package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A 421 ends the session at once (issue 21): against an upstream that answers 421 and then
 * closes the TCP connection only much later (in clear: silence; over TLS: close_notify first),
 * the entry is deferred with the 421 right away, not after forward_command_timeout (60 s here,
 * far beyond the test's wait), so it does not sit in SENDING out of reach of queue retry.
 */
class GoodbyeReplyTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static final String BYE = "421 4.7.0 Try again later, closing connection";
    private static TestCerts localhost;

    @TempDir
    Path tmp;

    @AutoClose
    private final Harness h = new Harness();
    private final FakeEsp esp = h.own(new FakeEsp());

    @BeforeAll
    static void certs() {
        localhost = TestCerts.selfSigned("localhost");
    }

    /** Timeouts far longer than the test waits: only an immediate end can pass. */
    private static ForwardConfig patient(UpstreamConfig u) {
        Duration t = Duration.ofSeconds(60);
        return new ForwardConfig(1, Duration.ofSeconds(60), Duration.ofSeconds(30), t, t, t, t,
                Duration.ofMillis(100), "relay.test", true, 100, List.of(u));
    }

    private void assertDeferredAtOnceWith421(QueueEntry e) {
        h.await("deferred with the 421", WAIT, () -> h.queue.get(e.id()).orElseThrow().state() == EntryState.DEFERRED);
        QueueEntry now = h.queue.get(e.id()).orElseThrow();
        assertTrue(now.lastReply().startsWith("421 4.7.0"), now.lastReply());
        assertEquals(1, now.attempts());
    }

    @Test
    void a421AtMailInClearThenSilence() throws Exception {
        esp.rule("MAIL", "replyhold " + BYE, 1).start();
        h.start(patient(new Harness.Up("esp", esp.port()).build()));
        assertDeferredAtOnceWith421(h.enqueue("app@corp.example", List.of("a@x.example", "b@x.example"),
                Harness.message(1)));
        h.await("delivered on a new session", WAIT, () -> esp.received.size() == 1);
    }

    @Test
    void a421AtMailOverTlsThenCloseNotify() throws Exception {
        esp.ssl = localhost.serverContext();
        esp.offerStartTls = true;
        esp.requireTls = true;
        esp.rule("MAIL", "replyhold " + BYE, 1).start();
        Harness.Up u = new Harness.Up("esp", esp.port());
        u.tls = "starttls";
        u.caFile = localhost.writePem(tmp.resolve("ca.pem"));
        h.start(patient(u.build()));
        assertDeferredAtOnceWith421(h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1)));
    }

    @Test
    void a421AtRcptEndsTheTransactionForEveryRecipient() throws Exception {
        esp.pipelining = false;
        esp.rule("RCPT TO:<b@", "replyhold " + BYE, 1).start();
        h.start(patient(new Harness.Up("esp", esp.port()).build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example", "b@x.example", "c@x.example"),
                Harness.message(1));
        assertDeferredAtOnceWith421(e);
        assertEquals(0, esp.count("DATA"), "no DATA after the 421: " + esp.commands);
    }
}
