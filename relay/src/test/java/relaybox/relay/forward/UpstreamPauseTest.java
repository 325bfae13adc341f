package relaybox.relay.forward;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The providers' replies against the in-process fake ESP, through the real dispatcher: a quota
 * 5xx pauses the upstream instead of bouncing and spends no attempt, its mail fails over or waits;
 * sender throttling pauses and alerts; throttling while opening a session slows the upstream down
 * without calling it down; 535 5.7.139 tells the operator what to switch on; an operator's pause
 * holds mail back and ends by itself.
 */
class UpstreamPauseTest {

    private static final Duration WAIT = Duration.ofSeconds(20);
    private static final String QUOTA = "550 5.4.5 Daily SMTP relay limit exceeded for user. To learn more visit "
            + "https://support.google.com/a/answer/3726730";

    @TempDir
    Path tmp;
    @AutoClose
    private final Harness h = new Harness();
    private final FakeEsp esp = h.own(new FakeEsp());
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();

    @BeforeEach
    void logs() {
        logged.start();
        ((Logger) LoggerFactory.getLogger(LinkMonitor.class)).addAppender(logged);
    }

    @AfterEach
    void tearDown() {
        ((Logger) LoggerFactory.getLogger(LinkMonitor.class)).detachAppender(logged);
    }

    @Test
    void aQuotaReplyPausesTheUpstreamAndItsMailFailsOverWithoutSpendingAnAttempt() throws Exception {
        esp.reply("MAIL", QUOTA, 1000);
        esp.start();
        try (FakeEsp backup = new FakeEsp().start()) {
            h.start(Harness.config(2, new Harness.Up("google", esp.port()).build(),
                    new Harness.Up("backup", backup.port()).build()));
            for (int i = 0; i < 4; i++) {
                h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(i));
            }
            h.await("delivered through the backup", WAIT, () -> backup.received.size() == 4 && h.queue.list().isEmpty());
            assertTrue(esp.count("MAIL") >= 1, "the primary was tried first");
            assertEquals(List.of(), h.linesWith(" forward failed "), "never a bounce");
            assertEquals(List.of(), h.linesWith(" forward deferred "), "a quota is not the message's attempt");
            assertEquals(4, h.linesWith(" attempt=1 ").size(), "each delivered at its first attempt: " + h.lines);
            assertEquals(1, h.linesWith("- forward paused name=google cause=quota until=").size(), h.lines.toString());
            assertTrue(h.linesWith("forward paused").get(0).endsWith("reason=\"" + QUOTA + "\""), h.lines.toString());
            Pause p = h.dispatcher.links().get(0).pause();
            assertNotNull(p, "the primary is paused");
            assertEquals(Pause.Cause.QUOTA, p.cause());
            assertTrue(h.dispatcher.isUp("google"), "paused, not down: its circuit stays closed");
            assertEquals(List.of(), h.linesWith(" forward down "));
        }
    }

    @Test
    void withoutFailoverTheMailWaitsQueuedUntilTheUpstreamIsResumed() throws Exception {
        esp.reply("RCPT", "554 5.2.0 STOREDRV.Submission.Exception:SubmissionQuotaExceededException; Failed to process"
                + " message due to a permanent exception", 1);
        esp.start();
        h.start(Harness.config(1, new Harness.Up("ms365", esp.port()).build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("paused", WAIT, () -> h.dispatcher.links().get(0).pause() != null);
        h.await("the entry given back", WAIT, () -> h.queue.get(e.id()).map(QueueEntry::state)
                .orElse(null) == EntryState.QUEUED);
        QueueEntry waiting = h.queue.get(e.id()).orElseThrow();
        assertEquals(0, waiting.attempts(), "no attempt spent on a quota");
        assertEquals(0, esp.received.size());
        assertEquals(List.of(), h.linesWith(" forward failed "));

        assertTrue(h.dispatcher.resume("ms365", "uid 0").isPresent());
        h.await("delivered after the resume", WAIT, () -> esp.received.size() == 1 && h.queue.list().isEmpty());
        assertEquals(1, h.linesWith("- forward resumed name=ms365 by=operator ").size(), h.lines.toString());
        assertNull(h.dispatcher.links().get(0).pause());
    }

    @Test
    void senderThrottlingPausesAndAlertsOnce() throws Exception {
        esp.reply("DATA_END", "550 5.2.252 SendAsDenied; Sender throttled due to continuous send as denied errors", 1000);
        esp.start();
        h.start(Harness.config(2, new Harness.Up("ms365", esp.port()).build()));
        for (int i = 0; i < 3; i++) {
            h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(i));
        }
        h.await("paused", WAIT, () -> h.dispatcher.links().get(0).pause() != null);
        assertEquals(Pause.Cause.THROTTLED, h.dispatcher.links().get(0).pause().cause());
        h.await("all given back", WAIT, () -> h.queue.list().stream().allMatch(x -> x.state() == EntryState.QUEUED));
        // Two sessions, and a message's commands may go ahead of the last one's ".": each message
        // reaches DATA at most once, none is retried while the block lasts.
        assertTrue(esp.count("DATA") <= 3, "no retry while the block lasts: " + esp.count("DATA"));
        assertTrue(h.queue.list().stream().allMatch(x -> x.attempts() == 0), "no attempt spent");
        assertEquals(List.of(), h.linesWith(" forward failed "));
        List<ILoggingEvent> errors = logged.list.stream().filter(x -> x.getLevel() == Level.ERROR).toList();
        assertEquals(1, errors.size(), errors.toString());
        assertTrue(errors.get(0).getFormattedMessage().contains("relaybox upstream resume ms365"),
                errors.get(0).getFormattedMessage());
    }

    @Test
    void throttlingWhileOpeningASessionSlowsTheUpstreamDownButIsNoOutage() throws Exception {
        esp.reply("GREETING", "432 4.3.2 Concurrent connections limit exceeded. Visit https://aka.ms/concurrent_sending",
                1);
        esp.start();
        h.start(Harness.config(1, new Harness.Up("ms365", esp.port()).build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("delivered", WAIT, () -> esp.received.size() == 1 && h.queue.list().isEmpty());
        assertEquals(List.of(), h.linesWith(" forward down "), "throttling is not an outage");
        assertEquals(List.of(), h.linesWith(e.id() + " forward deferred "), "no attempt spent");
        assertEquals(1, h.linesWith(e.id() + " forward delivered ").size());
        assertTrue(h.linesWith(e.id() + " forward delivered ").get(0).contains(" attempt=1 "), h.lines.toString());
        assertTrue(logged.list.stream().anyMatch(x -> x.getFormattedMessage().contains("is throttling us")),
                logged.list.toString());
    }

    @Test
    void smtpAuthDisabledIsAConfigurationErrorThatSaysWhatToSwitchOn() throws Exception {
        esp.authMechs = "LOGIN";
        esp.reply("AUTH", "535 5.7.139 Authentication unsuccessful, SmtpClientAuthentication is disabled for the Tenant."
                + " Visit https://aka.ms/smtp_auth_disabled for more information.", 1000);
        esp.start();
        Path secret = tmp.resolve("auth");
        Files.writeString(secret, "username=user\npassword=secret\n");
        Files.setPosixFilePermissions(secret, PosixFilePermissions.fromString("rw-------"));
        Harness.Up u = new Harness.Up("ms365", esp.port());
        u.authFile = secret;
        h.start(Harness.config(1, u.build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("down", WAIT, () -> !h.dispatcher.isUp("ms365"));
        LinkView link = h.dispatcher.links().get(0);
        assertTrue(link.backingOff(), link.toString());
        assertTrue(link.reason().startsWith("535 5.7.139 ") && link.reason().contains("-SmtpClientAuthenticationDisabled"
                + " $false"), link.reason());
        assertEquals(EntryState.QUEUED, h.queue.get(e.id()).orElseThrow().state(), "mail defers, never bounces");
    }

    @Test
    void anOperatorsPauseHoldsMailBackAndEndsByItself() throws Exception {
        esp.start();
        h.start(Harness.config(1, new Harness.Up("esp", esp.port()).build()));
        assertTrue(h.dispatcher.pause("esp", Duration.ofMillis(1500), "uid 0").isPresent());
        assertTrue(h.dispatcher.pause("nope", null, "uid 0").isEmpty());
        h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        long paused = System.nanoTime();
        h.await("delivered after the pause ended", WAIT, () -> esp.received.size() == 1);
        assertTrue(System.nanoTime() - paused >= Duration.ofMillis(1000).toNanos(), "nothing sent while paused");
        assertEquals(1, h.linesWith("- forward paused name=esp cause=operator until=").size(), h.lines.toString());
        assertTrue(h.linesWith("- forward paused").get(0).endsWith("reason=\"paused by uid 0\""), h.lines.toString());
        h.await("resume logged", WAIT, () -> h.linesWith("- forward resumed name=esp by=expiry ").size() == 1);
    }
}
