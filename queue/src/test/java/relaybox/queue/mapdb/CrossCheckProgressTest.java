package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;
import relaybox.queue.CrossCheckProgress;
import relaybox.queue.CrossCheckProgress.Phase;
import relaybox.queue.EntryState;
import relaybox.queue.MutableClock;
import relaybox.queue.RetrySchedule;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What the queue tells about its background cross-check after an unclean stop while it runs and
 * once it has ended: the phase and the figures that status, metrics and health show.
 */
class CrossCheckProgressTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path root;

    @Test
    void theProgressMovesFromRescueToAuditToDoneWithTheFigures() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("q");
        UncleanStops.lostAfterAKill(dir, clock);
        Instant opened = clock.instant();
        try (UncleanStops.Gates gates = UncleanStops.hold(dir);
             MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            CrossCheckProgress p = q.crossCheckProgress();
            assertEquals(Phase.RESCUE, p.phase(), p.toString());
            assertTrue(p.running());
            assertTrue(p.segments() > 0, p.toString());
            assertEquals(0, p.segmentsScanned());
            assertEquals(0, p.entriesRescued());
            assertEquals(opened, p.startedAt());
            assertNull(p.finishedAt());

            gates.releaseStart();
            p = awaitPhase(q, Phase.AUDIT);
            assertEquals(p.segments(), p.segmentsScanned(), "every segment read before the audit: " + p);
            assertEquals(1, p.entriesRescued(), "the entry the index lost is queued again: " + p);
            assertEquals(0, p.entriesAudited());
            assertEquals(0, p.rangesQuarantined());

            clock.advance(Duration.ofSeconds(7));
            gates.releaseAudit();
            assertTrue(CrossChecks.await(q));
            p = q.crossCheckProgress();
            assertEquals(Phase.DONE, p.phase(), p.toString());
            assertEquals(3, p.entriesAudited(), "the three waiting entries, the rescued one among them: " + p);
            assertEquals(1, p.entriesRescued());
            // The index still counted the lost entry (its state count and its segment's reference
            // count), and the rescue counted it again: both are recounted.
            assertEquals(2, p.repairs(), p.toString());
            assertEquals(opened.plusSeconds(7), p.finishedAt());
            assertEquals(Duration.ofSeconds(7), p.elapsed(clock.instant().plusSeconds(60)));
            assertEquals("", p.failure());
        }
    }

    /** A check that meets a damaged index stops there: FAILED, with why, and when. */
    @Test
    void aCheckThatFindsTheIndexDamagedIsFailedAndSaysWhy() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("damaged");
        UncleanStops.lostAfterAKill(dir, clock);
        // A state key that names no queue id: only the audit's sweep of the state keys meets it.
        DB db = DBMaker.fileDB(dir.resolve("queue.db").toFile()).transactionEnable().fileMmapEnableIfSupported().make();
        try {
            db.treeSet("states", Serializer.STRING).createOrOpen().add(IndexKeys.letter(EntryState.FAILED) + "!bad");
            db.commit();
        } finally {
            db.close();
        }
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            assertThrows(IndexDamage.Damaged.class, () -> CrossChecks.await(q));
            CrossCheckProgress p = q.crossCheckProgress();
            assertEquals(Phase.FAILED, p.phase(), p.toString());
            assertFalse(p.running());
            assertTrue(p.failure().contains("the index is damaged"), p.failure());
            assertEquals(1, p.entriesRescued(), "what it did before it failed is still told: " + p);
            assertEquals(clock.instant(), p.finishedAt());
        }
    }

    @Test
    void aStoreStoppedCleanlyHasNoCheck() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("clean");
        UncleanStops.fiveIndexedOfWhichTwoDelivered(dir, clock);
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            assertEquals(CrossCheckProgress.NONE, q.crossCheckProgress());
        }
    }

    private static CrossCheckProgress awaitPhase(MapDbQueue q, Phase phase) throws InterruptedException {
        long deadline = System.nanoTime() + 60_000_000_000L;
        CrossCheckProgress p = q.crossCheckProgress();
        while (p.phase() != phase && System.nanoTime() < deadline) {
            Thread.sleep(5);
            p = q.crossCheckProgress();
        }
        assertEquals(phase, p.phase(), p.toString());
        return p;
    }
}
