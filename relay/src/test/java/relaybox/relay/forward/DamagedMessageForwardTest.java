package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.mapdb.MapDbQueue;
import relaybox.relay.log.MailLog;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** A message whose bytes rotted on disk is quarantined by the forwarder's read, never sent or retried. */
class DamagedMessageForwardTest {

    @AutoClose
    private final Harness h = new Harness();
    private final FakeEsp esp = h.own(new FakeEsp());

    @TempDir
    Path tmp;

    @Test
    void aMessageThatFailsItsChecksumIsQuarantinedNotSentAndNotRetried() throws Exception {
        Path dir = tmp.resolve("q");
        QueueEntry bad;
        QueueEntry good;
        try (MapDbQueue q = MapDbQueue.open(dir, 0, Harness.FAST_RETRY, Clock.systemUTC())) {
            bad = accept(q, Harness.message(1) + "THIS-BODY-ROTS\r\n");
            good = accept(q, Harness.message(2) + "this one stays\r\n");
        }
        flipIn(dir.resolve("spool"), "THIS-BODY-ROTS");
        esp.start();
        List<String> lines = new CopyOnWriteArrayList<>();
        MailLog log = new MailLog(lines::add);
        try (MapDbQueue q = MapDbQueue.open(dir, 0, Harness.FAST_RETRY, Clock.systemUTC())) {
            q.onQuarantine(x -> log.quarantined(x.id(), x.reason()));
            try (Dispatcher d = Dispatcher.start(q, Harness.config(1, new Harness.Up("esp", esp.port()).build()), log)) {
                h.await("the good one delivered, the bad one quarantined", Duration.ofSeconds(10),
                        () -> esp.received.size() == 1 && q.get(bad.id()).map(QueueEntry::state)
                                .orElse(null) == EntryState.QUARANTINED);
                // Retries are due within a second here (FAST_RETRY): a quarantined entry gets none.
                Thread.sleep(1500);
                assertEquals(1, esp.received.size(), "only the intact message went out");
                assertTrue(esp.received.get(0).text().contains("this one stays"));
                assertTrue(q.get(good.id()).isEmpty(), "the intact one was delivered and removed");
                assertEquals(EntryState.QUARANTINED, q.get(bad.id()).orElseThrow().state());
                List<String> quarantined = lines.stream().filter(l -> l.contains(bad.id() + " queue quarantined reason=")).toList();
                assertEquals(1, quarantined.size(), String.join("\n", lines));
                assertTrue(lines.stream().noneMatch(l -> l.contains(bad.id() + " forward deferred")), String.join("\n", lines));
                assertEquals(null, d.firstBug());
            }
        }
    }

    private static QueueEntry accept(Queue q, String body) throws Exception {
        Queue.Incoming in = q.receive();
        in.body().write(body.getBytes(StandardCharsets.UTF_8));
        return q.accept(in, Envelope.of("app@corp.example", List.of("a@x.example")), "");
    }

    /** Flips one byte of {@code marker} where it is in a spool segment, as a bad sector would. */
    private static void flipIn(Path spool, String marker) throws Exception {
        try (var files = Files.list(spool)) {
            for (Path p : files.toList()) {
                String text = new String(Files.readAllBytes(p), StandardCharsets.ISO_8859_1);
                int at = text.indexOf(marker);
                if (at >= 0) {
                    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.WRITE)) {
                        ch.write(ByteBuffer.wrap(new byte[] {'X'}), at + 2);
                    }
                    return;
                }
            }
        }
        throw new AssertionError(marker + " not found in the spool");
    }
}
