package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.MutableClock;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static relaybox.queue.QueueContract.put;

/**
 * The cross-check of the spool against the index at an open after a stop that was not clean:
 * an entry the index lost without a trace (MapDB keeps no checksum of its nodes, so damage that
 * still decodes can drop a subtree) is queued again from its live spool record, and nothing
 * whose outcome the spool recorded (a dead mark, a REMOVE) comes back.
 */
class CrossCheckTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path root;

    private static MapDbQueue open(Path dir, MutableClock clock) throws Exception {
        return MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock);
    }

    @Test
    void anEntryTheIndexLostWithoutATraceIsQueuedAgainAfterAnUncleanStop() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("q");
        List<QueueId> waiting = fiveIndexedOfWhichTwoDelivered(dir, clock);
        // A kill: the stamp was taken by the open and never written again.
        MapDbQueue q = open(dir, clock);
        q.crashForTest();
        assertFalse(Files.exists(dir.resolve(CleanStop.STAMP)), "a killed queue left the clean-stop stamp");
        QueueId lost = waiting.get(1);
        forget(dir, lost);
        try (MapDbQueue back = open(dir, clock)) {
            assertTrue(CrossChecks.await(back), "the cross-check ran to its end");
            assertEquals(waiting,
                    back.leaseDue(clock.instant(), 100).stream().map(QueueEntry::id).sorted().toList(),
                    "the lost entry is queued again, the delivered ones are not");
            assertEquals(List.of(), back.quarantinedAtOpen());
            assertEquals(3L, back.counts().values().stream().mapToLong(x -> x).sum());
        }
    }

    /**
     * The open after a kill returns before the cross-check has run (here: before it starts), the
     * queue accepts at once, and the check still queues the lost entry again afterwards. With
     * the check inside the open (as before), the entry was back before the open returned.
     */
    @Test
    void theOpenAcceptsBeforeTheCrossCheckEndsAndTheCheckStillQueuesTheLostEntry() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("background");
        List<QueueId> waiting = lostAfterAKill(dir, clock);
        QueueId lost = waiting.get(1);
        CountDownLatch gate = new CountDownLatch(1);
        CrossCheck.GATES_FOR_TEST.put(dir, gate);
        try (MapDbQueue back = open(dir, clock)) {
            assertFalse(back.crossCheck().isDone(), "the open waited for the cross-check");
            QueueEntry fresh = put(back, "accepted while the check waits", "a@x.example");
            assertTrue(back.get(lost).isEmpty(), "the lost entry was back before the check ran");
            gate.countDown();
            assertTrue(CrossChecks.await(back));
            List<QueueId> want = new ArrayList<>(waiting);
            want.add(fresh.id());
            want.sort(Comparator.comparing(QueueId::value));
            assertEquals(want, back.leaseDue(clock.instant(), 100).stream().map(QueueEntry::id).sorted().toList());
            assertEquals(4L, back.counts().values().stream().mapToLong(x -> x).sum());
        } finally {
            CrossCheck.GATES_FOR_TEST.remove(dir);
        }
        assertTrue(Files.exists(dir.resolve(CleanStop.STAMP)), "a close after a finished check is clean");
    }

    /** A clean stop before the cross-check ends writes no stamp: the next open checks again, and finds the entry. */
    @Test
    void aCloseDuringTheCrossCheckLeavesTheStopUncleanSoTheNextOpenChecksAgain() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("closed-during");
        List<QueueId> waiting = lostAfterAKill(dir, clock);
        CountDownLatch gate = new CountDownLatch(1);
        CrossCheck.GATES_FOR_TEST.put(dir, gate);
        try {
            open(dir, clock).close();
        } finally {
            CrossCheck.GATES_FOR_TEST.remove(dir);
        }
        assertFalse(Files.exists(dir.resolve(CleanStop.STAMP)), "stamped clean although the check had not run");
        try (MapDbQueue back = open(dir, clock)) {
            assertTrue(CrossChecks.await(back));
            assertEquals(waiting, back.leaseDue(clock.instant(), 100).stream().map(QueueEntry::id).sorted().toList());
        }
    }

    /**
     * A kill in the middle of the check (the lost entry queued again, its index write not yet
     * made) loses nothing and sends nothing twice: the next open checks again and queues it once.
     */
    @Test
    void aKillDuringTheCrossCheckLosesNothing() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("killed-during");
        List<QueueId> waiting = lostAfterAKill(dir, clock);
        QueueId lost = waiting.get(1);
        QueueEntry fresh;
        CountDownLatch gate = new CountDownLatch(1);
        CrossCheck.GATES_FOR_TEST.put(dir, gate);
        try {
            MapDbQueue q = open(dir, clock);
            fresh = put(q, "accepted during the check", "a@x.example");
            q.hooks.indexGate = new CountDownLatch(1);
            gate.countDown();
            long deadline = System.nanoTime() + 60_000_000_000L;
            while (q.get(lost).isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(5);
            }
            assertTrue(q.get(lost).isPresent(), "the check did not queue the lost entry again");
            assertFalse(q.crossCheck().isDone());
            q.crashForTest();
        } finally {
            CrossCheck.GATES_FOR_TEST.remove(dir);
        }
        assertFalse(Files.exists(dir.resolve(CleanStop.STAMP)));
        try (MapDbQueue back = open(dir, clock)) {
            assertTrue(CrossChecks.await(back));
            List<QueueId> want = new ArrayList<>(waiting);
            want.add(fresh.id());
            want.sort(Comparator.comparing(QueueId::value));
            assertEquals(want, back.leaseDue(clock.instant(), 100).stream().map(QueueEntry::id).sorted().toList());
            assertEquals(4L, back.counts().values().stream().mapToLong(x -> x).sum());
        }
    }

    private static List<QueueId> lostAfterAKill(Path dir, MutableClock clock) throws Exception {
        return UncleanStops.lostAfterAKill(dir, clock);
    }

    @Test
    void aCleanStopIsStampedAndTheStampIsTakenByTheNextOpen() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("clean");
        fiveIndexedOfWhichTwoDelivered(dir, clock);
        assertTrue(Files.exists(dir.resolve(CleanStop.STAMP)), "a clean close writes the stamp");
        MapDbQueue q = open(dir, clock);
        assertFalse(Files.exists(dir.resolve(CleanStop.STAMP)), "an open takes the stamp before it writes");
        q.close();
        assertTrue(Files.exists(dir.resolve(CleanStop.STAMP)));
    }

    private static List<QueueId> fiveIndexedOfWhichTwoDelivered(Path dir, MutableClock clock) throws Exception {
        return UncleanStops.fiveIndexedOfWhichTwoDelivered(dir, clock);
    }

    private static void forget(Path dir, QueueId id) {
        UncleanStops.forget(dir, id);
    }
}
