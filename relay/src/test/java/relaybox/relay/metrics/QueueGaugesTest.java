package relaybox.relay.metrics;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.CrossCheckProgress;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.Envelope;
import relaybox.queue.MutableClock;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;
import relaybox.queue.mapdb.UncleanStops;
import relaybox.queue.memory.InMemoryQueue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class QueueGaugesTest {

    private final MutableClock clock = new MutableClock();
    private final InMemoryQueue queue = new InMemoryQueue(clock, RetrySchedule.DEFAULT);
    private final RelayMetrics metrics = new RelayMetrics();

    @AfterEach
    void close() {
        metrics.close();
        queue.close();
    }

    private QueueEntry accept() throws Exception {
        Queue.Incoming in = queue.receive();
        in.body().write("Subject: x\r\n\r\nhi\r\n".getBytes(StandardCharsets.US_ASCII));
        return queue.accept(in, Envelope.of("a@b.example", List.of("c@d.example")), "");
    }

    @Test
    void depthByStateAndAgeOfTheOldestWaitingMessage() throws Exception {
        metrics.bindQueue(queue, clock);
        Map<String, Double> s = Scrape.samples(metrics.scrape());
        assertEquals(0.0, s.get("relaybox_queue_entries{state=\"queued\"}"));
        assertEquals(0.0, s.get("relaybox_queue_oldest_age_seconds"));

        QueueEntry first = accept();
        clock.advance(Duration.ofMinutes(10));
        accept();
        clock.advance(Duration.ofMinutes(5));
        s = Scrape.samples(metrics.scrape());
        assertEquals(2.0, s.get("relaybox_queue_entries{state=\"queued\"}"));
        assertEquals(900.0, s.get("relaybox_queue_oldest_age_seconds"));

        // The oldest is deferred: still waiting, still counted in the age.
        List<QueueEntry> leased = queue.leaseDue(clock.instant(), 1);
        assertEquals(first.id(), leased.get(0).id());
        s = Scrape.samples(metrics.scrape());
        assertEquals(1.0, s.get("relaybox_queue_entries{state=\"sending\"}"));
        queue.recordOutcome(first.id(), Map.of("c@d.example", new DeliveryOutcome.Deferred("451 4.7.1 later")),
                clock.instant());
        s = Scrape.samples(metrics.scrape());
        assertEquals(1.0, s.get("relaybox_queue_entries{state=\"deferred\"}"));
        assertEquals(900.0, s.get("relaybox_queue_oldest_age_seconds"));

        // Held mail is parked by an operator, not late: it leaves the age.
        queue.hold(first.id());
        s = Scrape.samples(metrics.scrape());
        assertEquals(1.0, s.get("relaybox_queue_entries{state=\"held\"}"));
        assertEquals(300.0, s.get("relaybox_queue_oldest_age_seconds"));
    }

    @Test
    void storeSizeAndFreeSpace(@TempDir Path dir) throws Exception {
        Files.write(dir.resolve("queue.db"), new byte[1000]);
        Files.createDirectories(dir.resolve("spool"));
        Files.write(dir.resolve("spool/ABC"), new byte[234]);
        metrics.bindStore(dir, 256L << 20);
        Map<String, Double> s = Scrape.samples(metrics.scrape());
        assertEquals(1234.0, s.get("relaybox_store_size_bytes"));
        assertTrue(s.get("relaybox_store_free_bytes") > 0);
        assertEquals((double) (256L << 20), s.get("relaybox_store_min_free_bytes"));
    }

    /**
     * A real store opened after a kill with an entry lost from its index: the cross-check's phase
     * and figures are scraped while it is held before its audit, and once it is done.
     */
    @Test
    void theCrossCheckAfterAnUncleanStopIsScraped(@TempDir Path dir) throws Exception {
        UncleanStops.lostAfterAKill(dir, clock);
        try (UncleanStops.Gates gates = UncleanStops.hold(dir);
             MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            metrics.bindQueue(q, clock);
            Map<String, Double> s = Scrape.samples(metrics.scrape());
            assertEquals(1.0, s.get("relaybox_queue_crosscheck_phase{phase=\"rescue\"}"));
            assertEquals(0.0, s.get("relaybox_queue_crosscheck_phase{phase=\"none\"}"));
            assertEquals(0.0, s.get("relaybox_queue_crosscheck_segments_scanned"));
            assertTrue(s.get("relaybox_queue_crosscheck_segments") >= 1, s.toString());
            clock.advance(Duration.ofSeconds(30));
            assertEquals(30.0, Scrape.samples(metrics.scrape()).get("relaybox_queue_crosscheck_duration_seconds"));

            gates.releaseStart();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (q.crossCheckProgress().phase() != CrossCheckProgress.Phase.AUDIT && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            s = Scrape.samples(metrics.scrape());
            assertEquals(1.0, s.get("relaybox_queue_crosscheck_phase{phase=\"audit\"}"));
            assertEquals(s.get("relaybox_queue_crosscheck_segments"), s.get("relaybox_queue_crosscheck_segments_scanned"));
            assertEquals(1.0, s.get("relaybox_queue_crosscheck_entries_rescued"));

            gates.releaseAudit();
            q.crossCheck().get(1, java.util.concurrent.TimeUnit.MINUTES);
            clock.advance(Duration.ofSeconds(60));
            s = Scrape.samples(metrics.scrape());
            assertEquals(1.0, s.get("relaybox_queue_crosscheck_phase{phase=\"done\"}"));
            assertEquals(0.0, s.get("relaybox_queue_crosscheck_phase{phase=\"audit\"}"));
            assertEquals(3.0, s.get("relaybox_queue_crosscheck_entries_audited"));
            assertEquals(1.0, s.get("relaybox_queue_crosscheck_entries_rescued"));
            assertEquals(2.0, s.get("relaybox_queue_crosscheck_repairs"));
            assertEquals(30.0, s.get("relaybox_queue_crosscheck_duration_seconds"), "the time it ran, not since");
        }
    }

    @Test
    void aStoreWithoutACheckScrapesPhaseNone() {
        metrics.bindQueue(queue, clock);
        Map<String, Double> s = Scrape.samples(metrics.scrape());
        assertEquals(1.0, s.get("relaybox_queue_crosscheck_phase{phase=\"none\"}"));
        assertEquals(0.0, s.get("relaybox_queue_crosscheck_duration_seconds"));
    }

    @Test
    void aFailingSupplierDoesNotBreakTheScrape() {
        metrics.bindQueue(() -> {
            throw new IllegalStateException("store closed");
        }, java.util.Optional::empty, clock);
        metrics.accepted(1);
        Map<String, Double> s = Scrape.samples(metrics.scrape());
        assertEquals(1.0, s.get("relaybox_messages_accepted_total"));
    }
}
