package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.MutableClock;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;

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
            assertEquals(waiting,
                    back.leaseDue(clock.instant(), 100).stream().map(QueueEntry::id).sorted().toList(),
                    "the lost entry is queued again, the delivered ones are not");
            assertEquals(List.of(), back.quarantinedAtOpen());
            assertEquals(3L, back.counts().values().stream().mapToLong(x -> x).sum());
        }
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

    /** Five messages accepted and indexed, two delivered, closed cleanly; the other three's ids, sorted. */
    private static List<QueueId> fiveIndexedOfWhichTwoDelivered(Path dir, MutableClock clock) throws Exception {
        List<QueueId> waiting = new ArrayList<>();
        try (MapDbQueue q = open(dir, clock)) {
            for (int i = 0; i < 5; i++) {
                waiting.add(put(q, "message " + i, "a@x.example").id());
            }
            for (QueueEntry e : q.leaseDue(clock.instant(), 2)) {
                q.recordOutcome(e.id(), Map.of("a@x.example", new DeliveryOutcome.Delivered("250 ok")), clock.instant());
                waiting.remove(e.id());
            }
        }
        waiting.sort(java.util.Comparator.comparing(QueueId::value));
        return waiting;
    }

    /** Damage MapDB cannot see: the entry, its due key and its state key are simply gone. */
    @SuppressWarnings("unchecked")
    private static void forget(Path dir, QueueId id) {
        DB db = DBMaker.fileDB(dir.resolve("queue.db").toFile()).transactionEnable().fileMmapEnableIfSupported().make();
        try {
            db.treeMap("entries", Serializer.STRING, Serializer.BYTE_ARRAY).valuesOutsideNodesEnable().createOrOpen()
                    .remove(id.value());
            for (String name : List.of("due", "states")) {
                NavigableSet<String> set = (NavigableSet<String>) db.treeSet(name, Serializer.STRING).createOrOpen();
                set.removeIf(k -> k.endsWith(id.value()));
            }
            db.commit();
        } finally {
            db.close();
        }
    }
}
