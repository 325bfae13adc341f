package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.MutableClock;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static relaybox.queue.QueueContract.put;

/**
 * The spool's journal of outcomes: what the forwarder reported survives a kill before the index
 * commit, and what was delivered is never queued again by a rebuild of the index from the spool.
 */
class OutcomeJournalTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path root;

    private static MapDbQueue open(Path dir, MutableClock clock) throws Exception {
        return MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock);
    }

    private static void deliver(MapDbQueue q, QueueEntry e, MutableClock clock) {
        q.recordOutcome(e.id(), Map.of(e.envelope().recipients().get(0), new DeliveryOutcome.Delivered("250 ok")),
                clock.instant());
    }

    @Test
    void outcomesRecordedJustBeforeAKillAreNotLostWithTheIndexCommit() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("kill");
        MapDbQueue q = open(dir, clock);
        List<QueueEntry> acked = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            acked.add(put(q, i == 5 ? "L".repeat(Spool.SMALL + 9) : "message " + i, "a@x.example"));
        }
        QueueEntry failed = put(q, "failed", "a@x.example");
        q.close();
        q = open(dir, clock);
        q.leaseDue(clock.instant(), 100);
        // From here on the committer writes nothing, as if the kill came before the next commit.
        q.hooks.indexGate = new CountDownLatch(1);
        for (int i = 0; i < 5; i++) {
            deliver(q, acked.get(i), clock);
        }
        q.recordOutcome(acked.get(5).id(), Map.of("a@x.example", new DeliveryOutcome.Deferred("451 later")),
                clock.instant());
        q.recordOutcome(failed.id(), Map.of("a@x.example", new DeliveryOutcome.Failed("550 no")), clock.instant());
        q.crashForTest();
        try (MapDbQueue back = open(dir, clock)) {
            assertEquals(List.of(acked.get(5).id(), failed.id()).stream().sorted().toList(),
                    back.list().stream().map(QueueEntry::id).sorted().toList(), "delivered entries stay delivered");
            QueueEntry deferred = back.get(acked.get(5).id()).orElseThrow();
            assertEquals(EntryState.DEFERRED, deferred.state());
            assertEquals(1, deferred.attempts());
            assertEquals(EntryState.FAILED, back.get(failed.id()).orElseThrow().state());
            assertEquals(List.of(), back.quarantinedAtOpen());
        }
    }

    /**
     * Replayed journal records go through the index like a commit: the per-state counts, the
     * state index (scan by state) and the due index (leasing) agree with the entries, at the
     * replaying open and at the clean open after it, which reads no entry.
     */
    @Test
    void replayedOutcomesMoveTheCountsStateAndDueIndexesAsACommitWould() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("indexes");
        MapDbQueue q = open(dir, clock);
        List<QueueEntry> acked = new ArrayList<>();
        for (int i = 0; i < 6; i++) {
            acked.add(put(q, "message " + i, "a@x.example"));
        }
        q.close();
        q = open(dir, clock);
        q.leaseDue(clock.instant(), 100);
        q.hooks.indexGate = new CountDownLatch(1);
        for (int i = 0; i < 3; i++) {
            deliver(q, acked.get(i), clock);
        }
        q.recordOutcome(acked.get(3).id(), Map.of("a@x.example", new DeliveryOutcome.Deferred("451 later")),
                clock.instant());
        q.recordOutcome(acked.get(4).id(), Map.of("a@x.example", new DeliveryOutcome.Failed("550 no")), clock.instant());
        q.returnLease(acked.get(5).id());
        q.crashForTest();
        for (int open = 0; open < 2; open++) {
            try (MapDbQueue back = open(dir, clock)) {
                Map<EntryState, Long> counts = back.counts();
                assertEquals(1L, counts.get(EntryState.QUEUED), "open " + open + ": " + counts);
                assertEquals(1L, counts.get(EntryState.DEFERRED), "open " + open + ": " + counts);
                assertEquals(1L, counts.get(EntryState.FAILED), "open " + open + ": " + counts);
                List<QueueId> failedIds = new ArrayList<>();
                back.scan(relaybox.queue.QueueFilter.states(EntryState.FAILED), e -> failedIds.add(e.id()));
                assertEquals(List.of(acked.get(4).id()), failedIds);
                List<QueueId> deferredIds = new ArrayList<>();
                back.scan(relaybox.queue.QueueFilter.states(EntryState.DEFERRED), e -> deferredIds.add(e.id()));
                assertEquals(List.of(acked.get(3).id()), deferredIds);
                if (open == 1) {
                    clock.advance(java.time.Duration.ofDays(2));
                    assertEquals(List.of(acked.get(3).id(), acked.get(5).id()).stream().sorted().toList(),
                            back.leaseDue(clock.instant(), 100).stream().map(QueueEntry::id).sorted().toList(),
                            "the due index holds exactly the waiting entries");
                }
            }
        }
    }

    @Test
    void aRebuildOfTheIndexFromTheSpoolResendsNoDeliveredMessage() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("rebuild");
        List<QueueEntry> kept = new ArrayList<>();
        try (MapDbQueue q = open(dir, clock)) {
            List<QueueEntry> all = new ArrayList<>();
            for (int i = 0; i < 300; i++) {
                all.add(put(q, "message " + i, "a@x.example"));
            }
            q.leaseDue(clock.instant(), 1000);
            for (int i = 0; i < all.size(); i++) {
                if (i % 50 == 7) {
                    // A failure every so often pins the segment, with every delivered record in it.
                    q.recordOutcome(all.get(i).id(), Map.of("a@x.example", new DeliveryOutcome.Failed("550 no")),
                            clock.instant());
                    kept.add(all.get(i));
                } else {
                    deliver(q, all.get(i), clock);
                }
            }
        }
        try (FileChannel ch = FileChannel.open(dir.resolve("queue.db"), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(64), 0);
        }
        try (MapDbQueue q = open(dir, clock)) {
            List<QueueId> ids = q.list().stream().map(QueueEntry::id).sorted().toList();
            assertEquals(kept.stream().map(QueueEntry::id).sorted().toList(), ids, "0 delivered messages queued again");
            assertTrue(q.list().stream().allMatch(e -> e.state() == EntryState.FAILED), "failed entries stay failed");
        }
    }

    @Test
    void aRebuildOfTheIndexKeepsALargeMessageWhoseRecordWasInAnOtherwiseEmptySegment() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("large");
        QueueEntry large;
        try (MapDbQueue q = open(dir, clock)) {
            large = put(q, "L".repeat(Spool.SMALL + 3), "a@x.example");
        }
        // Each open starts a new segment; the first one holds only the large message's record.
        try (MapDbQueue q = open(dir, clock)) {
            put(q, "small", "a@x.example");
        }
        try (MapDbQueue q = open(dir, clock)) {
            assertEquals(2, q.list().size());
        }
        try (FileChannel ch = FileChannel.open(dir.resolve("queue.db"), StandardOpenOption.WRITE)) {
            ch.write(ByteBuffer.allocate(64), 0);
        }
        try (MapDbQueue q = open(dir, clock)) {
            assertTrue(q.get(large.id()).isPresent(), "the large message's record was kept with its file");
        }
    }

    @Test
    void aSegmentNumberUsedAgainIsScannedFromItsStartNotFromTheOldWatermark() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("reuse");
        try (MapDbQueue q = open(dir, clock)) {
            QueueEntry e = put(q, "x".repeat(3000), "a@x.example");
            q.leaseDue(clock.instant(), 10);
            deliver(q, e, clock);
        }
        // This open deletes segment 0 (nothing refers to it) and appends nothing, as a start
        // killed during recovery does; the next one then starts segment 0 again, while the index
        // still holds the old segment 0's watermark.
        open(dir, clock).close();
        MapDbQueue q = open(dir, clock);
        q.hooks.indexGate = new CountDownLatch(1);
        QueueEntry kept = put(q, "acknowledged, not indexed", "a@x.example");
        q.crashForTest();
        try (MapDbQueue back = open(dir, clock)) {
            assertEquals(List.of(kept.id()), back.list().stream().map(QueueEntry::id).toList());
            assertEquals(List.of(), back.quarantinedAtOpen());
        }
    }
}
