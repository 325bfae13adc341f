package relaybox.relay.control;

import org.junit.jupiter.api.Test;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;
import relaybox.queue.memory.InMemoryQueue;
import relaybox.relay.log.MailLog;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Failed entries go after queue_failed_retention, each with a mail-log line; nothing else goes. */
class RetentionSweepTest {

    private final AtomicReference<Instant> now = new AtomicReference<>(Instant.parse("2026-12-01T10:00:00Z"));
    private final Clock clock = new Clock() {
        @Override
        public ZoneOffset getZone() {
            return ZoneOffset.UTC;
        }

        @Override
        public Clock withZone(java.time.ZoneId zone) {
            return this;
        }

        @Override
        public Instant instant() {
            return now.get();
        }
    };

    @Test
    void failedEntriesOlderThanTheRetentionArePurgedAndLogged() throws Exception {
        List<String> log = new CopyOnWriteArrayList<>();
        try (InMemoryQueue q = new InMemoryQueue(clock, RetrySchedule.DEFAULT);
             ControlService service = new ControlService(q, StatusSource.none(clock.instant()), null, null,
                     new MailLog(log::add), clock);
             RetentionSweep sweep = RetentionSweep.start(service, Duration.ofDays(5), clock)) {
            QueueEntry old = put(q, "a@x.example");
            QueueEntry waiting = put(q, "b@x.example");
            q.leaseDue(clock.instant(), 1);
            q.recordOutcome(old.id(), Map.of("a@x.example", new DeliveryOutcome.Failed("550 5.1.1 No such user")),
                    clock.instant());
            now.set(now.get().plus(Duration.ofDays(4)));
            QueueEntry young = put(q, "c@x.example");
            q.leaseDue(clock.instant(), 10).stream().filter(e -> e.id().equals(young.id())).findFirst().orElseThrow();
            q.recordOutcome(young.id(), Map.of("c@x.example", new DeliveryOutcome.Failed("550 no")), clock.instant());
            q.returnLease(waiting.id());
            assertEquals(0, sweep.sweep(), "nothing failed 5 days ago yet");

            now.set(now.get().plus(Duration.ofDays(2)));
            assertEquals(1, sweep.sweep());
            assertTrue(q.get(old.id()).isEmpty());
            assertEquals(EntryState.FAILED, q.get(young.id()).orElseThrow().state(), "failed 2 days ago: kept");
            assertEquals(EntryState.QUEUED, q.get(waiting.id()).orElseThrow().state(), "waiting mail is never purged");
            assertEquals(List.of(old.id() + " queue purged reason=\"failed for longer than queue_failed_retention (5d)\""),
                    log);
        }
    }

    private static QueueEntry put(Queue q, String rcpt) throws Exception {
        Queue.Incoming in = q.receive();
        in.body().write("Subject: x\r\n\r\nx\r\n".getBytes(StandardCharsets.UTF_8));
        return q.accept(in, Envelope.of("app@corp.example", List.of(rcpt)), "");
    }
}
