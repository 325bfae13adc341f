package relaybox.queue.mapdb;

import org.mapdb.DB;
import org.mapdb.DBMaker;
import org.mapdb.Serializer;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.MutableClock;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.concurrent.CountDownLatch;

import static relaybox.queue.QueueContract.put;

/**
 * Owns the stores tests open after a stop that was not clean (a kill, then damage MapDB cannot
 * see), and the gates that hold the background cross-check of such a store where a test wants to
 * look at it. Public so the daemon's and the command line's tests make the same stores.
 */
public final class UncleanStops {

    private UncleanStops() {
    }

    /** Five messages, two delivered, a kill, and one of the three waiting lost from the index; the three's ids. */
    public static List<QueueId> lostAfterAKill(Path dir, MutableClock clock) throws Exception {
        List<QueueId> waiting = fiveIndexedOfWhichTwoDelivered(dir, clock);
        MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock).crashForTest();
        forget(dir, waiting.get(1));
        return waiting;
    }

    /** Five messages accepted and indexed, two delivered, closed cleanly; the other three's ids, sorted. */
    public static List<QueueId> fiveIndexedOfWhichTwoDelivered(Path dir, MutableClock clock) throws Exception {
        List<QueueId> waiting = new ArrayList<>();
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            for (int i = 0; i < 5; i++) {
                waiting.add(put(q, "message " + i, "a@x.example").id());
            }
            for (QueueEntry e : q.leaseDue(clock.instant(), 2)) {
                q.recordOutcome(e.id(), Map.of("a@x.example", new DeliveryOutcome.Delivered("250 ok")), clock.instant());
                waiting.remove(e.id());
            }
        }
        waiting.sort(Comparator.comparing(QueueId::value));
        return waiting;
    }

    /** Damage MapDB cannot see: the entry, its due key and its state key are simply gone. */
    @SuppressWarnings("unchecked")
    public static void forget(Path dir, QueueId id) {
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

    /**
     * Holds the cross-check of the store in {@code dir} before it starts and again before its
     * audit phase, until the test releases each gate. Close it to take the gates away.
     */
    public static Gates hold(Path dir) {
        return new Gates(dir);
    }

    /** The two gates of one store's cross-check. */
    public static final class Gates implements AutoCloseable {
        private final Path dir;
        private final CountDownLatch start = new CountDownLatch(1);
        private final CountDownLatch audit = new CountDownLatch(1);

        private Gates(Path dir) {
            this.dir = dir;
            CrossCheck.GATES_FOR_TEST.put(dir, start);
            CrossCheck.AUDIT_GATES_FOR_TEST.put(dir, audit);
        }

        /** The check starts: it reads the spool and queues the lost entries again, then waits before the audit. */
        public void releaseStart() {
            start.countDown();
        }

        /** The check audits the index and ends. */
        public void releaseAudit() {
            audit.countDown();
        }

        @Override
        public void close() {
            start.countDown();
            audit.countDown();
            CrossCheck.GATES_FOR_TEST.remove(dir, start);
            CrossCheck.AUDIT_GATES_FOR_TEST.remove(dir, audit);
        }
    }
}
