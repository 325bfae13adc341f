package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import relaybox.relay.config.ForwardConfig;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.RecipientState;

import java.io.ByteArrayOutputStream;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The forwarder against the fake ESP over real loopback sockets: happy path, byte exactness,
 * connection reuse, and the fault matrix of issue 3 that does not involve TLS
 * (see {@link ForwardTlsTest}). Each test arranges the fake, queues mail, then asserts on what
 * the fake received, the queue state and the mail log.
 */
class ForwardTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    @AutoClose
    private final Harness h = new Harness();
    private final FakeEsp esp = h.own(new FakeEsp());

    private Harness.Up up() {
        return new Harness.Up("esp", esp.port());
    }

    @Test
    void deliversExactlyTheQueuedBytesPlusHeaders() throws Exception {
        esp.start();
        Harness.Up u = up();
        u.headers = List.of("X-SES-CONFIGURATION-SET: marketing");
        h.start(Harness.config(2, u.build()));
        StringBuilder body = new StringBuilder("From: app@corp.example\r\nSubject: dots\r\n\r\n");
        body.append(".leading dot\r\n..two dots\r\n.\r\nline with a lone dot above\r\n");
        body.append("x".repeat(12_000)).append("\r\n");
        body.append("caf\u00e9 \u00fcber\r\n.");  // ends without CRLF and with a dot
        byte[] bytes = body.toString().getBytes(StandardCharsets.UTF_8);
        String added = "Received: from app1 by relay.test; Sun, 22 Nov 2026 15:00:00 +0000\r\n";
        QueueEntry e = h.enqueue(new Envelope("app@corp.example", List.of("a@x.example"), false, true, "127.0.0.1",
                "app1", ""), added, bytes);
        byte[] queued;
        try (InputStream in = h.queue.openMessage(e.id())) {
            queued = in.readAllBytes();
        }

        // "removed" is the last line written for an attempt, after the queue has recorded it.
        h.await("delivery", WAIT, () -> esp.received.size() == 1 && h.lines.contains(e.id() + " queue removed"));

        ByteArrayOutputStream want = new ByteArrayOutputStream();
        want.write("X-SES-CONFIGURATION-SET: marketing\r\n".getBytes(StandardCharsets.US_ASCII));
        want.write(queued);
        want.write("\r\n".getBytes(StandardCharsets.US_ASCII)); // the client adds CRLF before "."
        assertArrayEquals(want.toByteArray(), esp.received.get(0).data(), "received bytes vs queued bytes");
        assertTrue(esp.received.get(0).mailLine().contains("BODY=8BITMIME"), esp.received.get(0).mailLine());
        assertTrue(esp.received.get(0).mailLine().contains("SIZE="), esp.received.get(0).mailLine());
        List<String> delivered = h.linesWith(" forward delivered ");
        assertEquals(1, delivered.size(), h.lines.toString());
        assertTrue(delivered.get(0).matches(e.id() + " forward delivered to=<a@x.example> "
                + "upstream=localhost\\[127\\.0\\.0\\.1]:" + esp.port() + " attempt=1 delay=\\S+ delays=\\S+ "
                + "reply=\"250 2\\.0\\.0 Ok: queued as Q1\""), delivered.get(0));
        assertTrue(h.lines.contains(e.id() + " queue removed"), h.lines.toString());
    }

    @Test
    void reusesConnectionsFor1000MessagesThroughFourSessions() throws Exception {
        esp.start();
        h.start(Harness.config(4, up().build()));
        Set<String> ids = new HashSet<>();
        for (int i = 0; i < 1000; i++) {
            ids.add(h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(i)).id().toString());
        }
        long t0 = System.nanoTime();
        h.await("1000 deliveries", Duration.ofSeconds(60), () -> esp.received.size() >= 1000 && h.queue.list().isEmpty());
        double secs = (System.nanoTime() - t0) / 1e9;
        assertEquals(1000, esp.received.size(), "no duplicates");
        int conns = esp.connections.get();
        System.out.printf("connection reuse: 1000 messages over %d connections in %.2fs%n", conns, secs);
        // 100 messages per connection by default: at least 10 connections, and not many more.
        assertTrue(conns >= 10 && conns <= 40, "connections used: " + conns);
    }

    @Test
    void upstreamDownThenUpLosesNothingAndDrainsPromptly() throws Exception {
        esp.start();
        int port = esp.port();
        esp.stop();
        h.start(Harness.config(4, new Harness.Up("esp", port).build()));
        for (int i = 0; i < 50; i++) {
            h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(i));
        }
        h.await("outage noticed", WAIT, () -> !h.dispatcher.isUp("esp"));
        // While down, mail stays queued: no attempt spent, no backoff pushed out.
        h.await("leases returned", WAIT, () -> h.queue.list().stream().allMatch(e -> e.state() == EntryState.QUEUED));
        assertTrue(h.queue.list().stream().allMatch(e -> e.attempts() == 0), "attempts spent while the link was down");
        assertEquals(1, h.linesWith(" forward down ").size(), "the outage is logged once: " + h.lines);
        assertTrue(h.linesWith(" forward deferred ").isEmpty(), "no per-message deferrals: " + h.lines);

        esp.start(port);
        long t0 = System.nanoTime();
        h.await("backlog drained", WAIT, () -> esp.received.size() == 50 && h.queue.list().isEmpty()
                && !h.linesWith(" forward up ").isEmpty());
        System.out.printf("drain after link returned: 50 messages in %.2fs%n", (System.nanoTime() - t0) / 1e9);
        assertEquals(1, h.linesWith(" forward up ").size(), h.lines.toString());
    }

    @Test
    void probeNowSendsAtOnceInsteadOfAtTheNextProbe() throws Exception {
        esp.start();
        int port = esp.port();
        esp.stop();
        Duration t = Duration.ofSeconds(2);
        // Probes an hour apart: only probeNow (an operator's "queue retry") can notice the return.
        h.start(new ForwardConfig(4, Duration.ofSeconds(5), Duration.ofSeconds(1), t, t, t, t, Duration.ofHours(1),
                "relay.test", true, 100, List.of(new Harness.Up("esp", port).build())));
        for (int i = 0; i < 20; i++) {
            h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(i));
        }
        h.await("outage noticed", WAIT, () -> !h.dispatcher.isUp("esp"));
        // A worker that checked the circuit just before it opened may still be about to connect:
        // wait until every lease is given back, or it would reach the restarted ESP on its own.
        h.await("every lease given back", WAIT,
                () -> h.queue.counts().getOrDefault(EntryState.SENDING, 0L) == 0L);
        esp.start(port);
        // Waits for something not to happen (a delivery before any probe); no event marks that.
        Thread.sleep(500);
        assertEquals(0, esp.received.size(), "nothing is sent before a probe");
        h.dispatcher.probeNow();
        h.await("backlog drained after probeNow", WAIT, () -> esp.received.size() == 20 && h.queue.list().isEmpty());
    }

    @Test
    void deferredMailIsNotLeftWaitingForItsBackoffWhenTheLinkReturns() throws Exception {
        esp.start();
        int port = esp.port();
        // The first message hangs after DATA: it is deferred by timeout and backs off.
        esp.rule("DATA_END", "close", 1);
        h.start(Harness.config(1, new Harness.Up("esp", port).build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("redelivered after the drop", WAIT, () -> esp.received.size() == 1 && h.queue.list().isEmpty());
        assertEquals(1, h.linesWith(e.id() + " forward deferred ").size(), h.lines.toString());
    }

    @Test
    void temporaryRepliesForAWhileThenDelivered() throws Exception {
        esp.start();
        esp.reply("GREETING", "421 4.3.2 Service not available, closing", 2);
        esp.reply("MAIL", "451 4.3.0 Local error, try later", 2);
        esp.reply("DATA_END", "454 4.7.0 Throttling failure: Maximum sending rate exceeded", 1);
        h.start(Harness.config(1, up().build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("delivered in the end", WAIT, () -> h.lines.contains(e.id() + " queue removed"));
        List<String> deferred = h.linesWith(e.id() + " forward deferred ");
        assertEquals(3, deferred.size(), "the 421 greetings spend no attempt: " + h.lines);
        assertTrue(deferred.get(0).contains("stage=MAIL reply=\"451 4.3.0 Local error, try later\""), deferred.get(0));
        assertTrue(deferred.get(2).contains("stage=DATA_END reply=\"454 4.7.0 Throttling failure"), deferred.get(2));
        assertEquals(1, h.linesWith(" forward down ").size(), "421 greeting opens the circuit: " + h.lines);
        assertTrue(h.linesWith(" forward delivered ").get(0).contains("attempt=4"), h.lines.toString());
    }

    @Test
    void a5xxForOneOfSeveralRecipientsFailsOnlyThatOneAndSendsADsn() throws Exception {
        esp.start();
        esp.reply("RCPT TO:<b@", "550 5.1.1 <b@y.example>: Recipient address rejected", 1);
        h.start(Harness.config(2, up().build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example", "b@y.example", "c@z.example"),
                Harness.message(1));
        h.await("delivered to a and c, DSN to the sender", WAIT, () -> esp.received.size() == 2);
        FakeEsp.Received msg = esp.received.get(0);
        assertEquals(List.of("a@x.example", "c@z.example"), msg.to());
        QueueEntry after = h.queue.get(e.id()).orElseThrow();
        assertEquals(EntryState.FAILED, after.state());
        assertEquals(RecipientState.Status.FAILED, after.recipients().get(1).status());
        assertEquals("550 5.1.1 <b@y.example>: Recipient address rejected", after.recipients().get(1).lastReply());
        assertTrue(h.lines.contains(e.id() + " forward failed to=<b@y.example> upstream=localhost[127.0.0.1]:"
                + esp.port() + " attempt=1 stage=RCPT reply=\"550 5.1.1 <b@y.example>: Recipient address rejected\""),
                h.lines.toString());
        FakeEsp.Received dsn = esp.received.get(1);
        assertEquals("", dsn.from(), "a DSN has the null sender");
        assertEquals(List.of("app@corp.example"), dsn.to());
        assertTrue(dsn.text().contains("Content-Type: multipart/report; report-type=delivery-status"), dsn.text());
        assertTrue(dsn.text().contains("Final-Recipient: rfc822; b@y.example\r\nAction: failed\r\nStatus: 5.1.1"),
                dsn.text());
        assertTrue(dsn.text().contains("Subject: test 1"), "original headers included");
    }

    @Test
    void aFailedBounceIsNeverBounced() throws Exception {
        esp.start();
        esp.reply("RCPT", "550 5.1.1 no such user", 1);
        h.start(Harness.config(1, up().build()));
        QueueEntry e = h.enqueue("", List.of("a@x.example"), Harness.message(1));
        h.await("failed", WAIT, () -> h.queue.get(e.id()).map(x -> x.state() == EntryState.FAILED).orElse(false));
        assertEquals(1, h.queue.list().size(), "no DSN queued for the null sender");
        assertTrue(h.linesWith(" forward dsn").isEmpty(), h.lines.toString());
    }

    @Test
    void dropMidDataIsRedelivered() throws Exception {
        esp.start();
        esp.rule("BODY", "close", 1);
        h.start(Harness.config(1, up().build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("redelivered", WAIT, () -> esp.received.size() == 1 && h.queue.list().isEmpty());
        assertEquals(2, esp.connections.get());
        String deferred = h.linesWith(e.id() + " forward deferred ").get(0);
        assertTrue(deferred.contains("reply=\"DATA end: connection closed by upstream\""), deferred);
    }

    @Test
    void aHungUpstreamTimesOutAndTheMessageIsDeferred() throws Exception {
        esp.start();
        esp.rule("RCPT", "hang", 1);
        h.start(Harness.config(1, up().build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("delivered after the timeout", WAIT, () -> esp.received.size() == 1 && h.queue.list().isEmpty());
        assertTrue(h.linesWith(e.id() + " forward deferred ").get(0).contains("reply=\"RCPT: timeout after 2s\""),
                h.lines.toString());
    }

    @Test
    void pipelinedTransactionWithEveryRecipientRejectedEndsWithALoneDot() throws Exception {
        esp.start();
        esp.reply("RCPT", "550 5.1.1 no such user", 2);
        esp.reply("DATA", "354 go ahead anyway", 1);
        h.start(Harness.config(1, up().build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example", "b@x.example"), Harness.message(1));
        h.await("failed", WAIT, () -> h.queue.get(e.id()).map(x -> x.state() == EntryState.FAILED).orElse(false));
        // The DSN goes out on the same session after an RSET.
        h.await("DSN delivered", WAIT, () -> esp.received.size() == 1);
        assertEquals("", esp.received.get(0).from());
        assertTrue(esp.count("RSET") >= 1, "RSET after the failed transaction: " + esp.commands);
        assertEquals(1, esp.connections.get(), "the session survived");
    }

    @Test
    void withoutPipeliningEachCommandWaitsForItsReply() throws Exception {
        esp.start();
        esp.pipelining = false;
        esp.reply("MAIL", "550 5.7.1 sender rejected", 1);
        h.start(Harness.config(1, up().build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        QueueEntry ok = h.enqueue("other@corp.example", List.of("a@x.example"), Harness.message(2));
        h.await("second delivered", WAIT, () -> h.lines.contains(ok.id() + " queue removed"));
        assertEquals(0, esp.commands.stream().filter(c -> c.equals("RCPT TO:<a@x.example>")).count() - esp.received
                .stream().filter(r -> !r.from().isEmpty()).count(), "no RCPT after the refused MAIL: " + esp.commands);
        assertEquals(EntryState.FAILED, h.queue.get(e.id()).orElseThrow().state());
        assertTrue(h.queue.get(ok.id()).isEmpty());
    }

    @Test
    void limitsSplitRecipientsAndCapMessagesPerConnection() throws Exception {
        esp.start();
        esp.limits = "MAILMAX=3 RCPTMAX=2";
        h.start(Harness.config(1, up().build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x", "b@x", "c@x", "d@x", "e@x"), Harness.message(1));
        h.await("delivered", WAIT, () -> h.queue.get(e.id()).isEmpty());
        assertEquals(List.of(List.of("a@x", "b@x"), List.of("c@x", "d@x"), List.of("e@x")),
                esp.received.stream().map(FakeEsp.Received::to).toList());
        for (int i = 0; i < 3; i++) {
            h.enqueue("app@corp.example", List.of("a@x"), Harness.message(i));
        }
        h.await("three more", WAIT, () -> esp.received.size() == 6);
        assertEquals(2, esp.connections.get(), "MAILMAX=3 retires the connection after 3 transactions");
    }

    @Test
    void smtputf8MailFailsWhenTheUpstreamDoesNotOfferIt() throws Exception {
        esp.start();
        h.start(Harness.config(1, up().build()));
        QueueEntry e = h.enqueue(new Envelope("app@corp.example", List.of("j\u00f6rg@x.example"), true, true,
                "127.0.0.1", "app1", ""), "", Harness.message(1).getBytes(StandardCharsets.UTF_8));
        h.await("failed", WAIT, () -> h.queue.get(e.id()).map(x -> x.state() == EntryState.FAILED).orElse(false));
        assertEquals(0, esp.count("MAIL FROM:<app"), "nothing sent for it");
        assertTrue(h.queue.get(e.id()).orElseThrow().recipients().get(0).lastReply().contains("SMTPUTF8 is required"));
    }

    @Test
    void smtputf8MailGoesOutWithItsParameterWhenOffered() throws Exception {
        esp.start();
        esp.offerSmtpUtf8 = true;
        h.start(Harness.config(1, up().build()));
        h.enqueue(new Envelope("j\u00f6rg@corp.example", List.of("\u00e5sa@x.example"), true, true,
                "127.0.0.1", "app1", ""), "", Harness.message(1).getBytes(StandardCharsets.UTF_8));
        h.await("delivered", WAIT, () -> esp.received.size() == 1);
        FakeEsp.Received r = esp.received.get(0);
        assertEquals("j\u00f6rg@corp.example", r.from());
        assertEquals(List.of("\u00e5sa@x.example"), r.to());
        assertTrue(r.mailLine().endsWith(" SMTPUTF8"), r.mailLine());
    }

    @Test
    void envelopeSenderRewriteKeepsTheNullSender() throws Exception {
        esp.start();
        Harness.Up u = up();
        u.envelopeSender = "bounces@verified.example";
        h.start(Harness.config(1, u.build()));
        h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.enqueue("", List.of("b@x.example"), Harness.message(2));
        h.await("both", WAIT, () -> esp.received.size() == 2);
        Set<String> froms = new HashSet<>();
        esp.received.forEach(r -> froms.add(r.from()));
        assertEquals(Set.of("bounces@verified.example", ""), froms);
    }

    @Test
    void temporaryReplyRulesMakeA5xxTemporary() throws Exception {
        esp.start();
        esp.reply("DATA_END", "550 5.7.1 Too many messages, try again later", 1);
        Harness.Up u = up();
        u.temporaryReplies = List.of("550 try again");
        h.start(Harness.config(1, u.build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("delivered on retry", WAIT, () -> esp.received.size() == 1 && h.queue.get(e.id()).isEmpty());
        assertEquals(1, h.linesWith(e.id() + " forward deferred ").size(), h.lines.toString());
    }

    @Test
    void failsOverToTheNextUpstreamAndReturnsToThePrimary() throws Exception {
        esp.start();
        int primaryPort = esp.port();
        esp.stop();
        try (FakeEsp backup = new FakeEsp().start()) {
            h.start(Harness.config(2, new Harness.Up("primary", primaryPort).build(),
                    new Harness.Up("backup", backup.port()).build()));
            for (int i = 0; i < 5; i++) {
                h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(i));
            }
            h.await("delivered through the backup", WAIT, () -> backup.received.size() == 5);
            esp.start(primaryPort);
            h.await("primary back", WAIT, () -> h.dispatcher.isUp("primary"));
            for (int i = 0; i < 5; i++) {
                h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(i));
            }
            h.await("delivered through the primary", WAIT, () -> esp.received.size() == 5);
            assertEquals(5, backup.received.size());
        }
    }

    @Test
    void routesBySenderDomain() throws Exception {
        esp.start();
        try (FakeEsp other = new FakeEsp().start()) {
            Harness.Up special = new Harness.Up("special", other.port());
            special.senderDomains = List.of("news.example");
            h.start(Harness.config(2, up().build(), special.build()));
            h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
            h.enqueue("letters@news.example", List.of("a@x.example"), Harness.message(2));
            h.await("both", WAIT, () -> esp.received.size() + other.received.size() == 2);
            assertEquals("app@corp.example", esp.received.get(0).from());
            assertEquals("letters@news.example", other.received.get(0).from());
        }
    }

    @Test
    void closeGivesLeasesBack() throws Exception {
        esp.start();
        esp.rule("GREETING", "hang", 100);
        h.start(Harness.config(1, up().build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("leased", WAIT, () -> h.queue.get(e.id()).map(x -> x.state() == EntryState.SENDING).orElse(false));
        h.dispatcher.close();
        EntryState s = h.queue.get(e.id()).orElseThrow().state();
        assertTrue(s == EntryState.QUEUED || s == EntryState.DEFERRED, "state after close: " + s);
    }
}
