package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.MutableClock;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CountDownLatch;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static relaybox.queue.QueueContract.put;
import static relaybox.queue.QueueContract.read;

/** One bad byte costs one message at most: recovery resynchronises, sending checks the checksum. */
class SpoolDamageTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path root;

    private static MapDbQueue open(Path dir, MutableClock clock) throws Exception {
        return MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock);
    }

    static Path onlySegment(Path dir) throws IOException {
        try (var files = Files.list(dir.resolve("spool"))) {
            return files.filter(p -> p.getFileName().toString().startsWith("seg-")).sorted().findFirst().orElseThrow();
        }
    }

    static void flip(Path file, long at) throws IOException {
        try (FileChannel ch = FileChannel.open(file, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            ByteBuffer b = ByteBuffer.allocate(1);
            ch.read(b, at);
            b.put(0, (byte) ~b.get(0));
            ch.write(b.flip(), at);
        }
    }

    @Test
    void aFlippedByteInOneRecordCostsThatMessageAloneEvenWhenTheIndexNeverHadAny() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("resync");
        MapDbQueue q = open(dir, clock);
        q.hooks.indexGate = new CountDownLatch(1);
        List<QueueEntry> acked = new ArrayList<>();
        for (int i = 0; i < 103; i++) {
            acked.add(put(q, (i % 25 == 3 ? "L".repeat(Spool.SMALL + 1) : "message ") + i, "a@x.example"));
        }
        q.crashForTest();
        List<AcceptRecords.Scanned> records = AcceptRecords.of(new Spool(dir.resolve("spool")), 0, 0);
        assertEquals(103, records.size());
        AcceptRecords.Scanned tenth = records.get(10);
        flip(onlySegment(dir), tenth.start() + 40);
        try (MapDbQueue back = open(dir, clock)) {
            List<QueueEntry> expected = new ArrayList<>(acked);
            expected.remove(10);
            assertEquals(expected.stream().map(QueueEntry::id).sorted().toList(),
                    back.list().stream().map(QueueEntry::id).sorted().toList());
            for (int i = 0; i < acked.size(); i++) {
                if (i != 10) {
                    assertTrue(read(back, acked.get(i).id()).endsWith(" " + i) || read(back, acked.get(i).id())
                            .endsWith("L" + i), "message " + i + " intact");
                }
            }
            String key = String.format("seg-%016x@%d", 0, tenth.start());
            assertEquals(List.of(key), back.quarantinedAtOpen().stream().map(MapDbQueue.Quarantined::id).toList());
            assertTrue(back.quarantinedRecords().containsKey(key));
            for (int i : new int[] {3, 28, 53, 78}) {
                assertTrue(Files.exists(dir.resolve("spool").resolve(acked.get(i).id().value())), "large file kept");
            }
        }
    }

    @Test
    void aSmallMessageWhoseBytesChangedOnDiskIsQuarantinedNotSent() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("small");
        QueueEntry bad;
        QueueEntry good;
        try (MapDbQueue q = open(dir, clock)) {
            bad = put(q, "a message that will rot", "a@x.example");
            good = put(q, "a message that stays", "a@x.example");
        }
        AcceptRecords.Scanned first = AcceptRecords.of(new Spool(dir.resolve("spool")), 0, 0).get(0);
        flip(onlySegment(dir), first.end() - 3);
        try (MapDbQueue q = open(dir, clock)) {
            List<String> reported = new ArrayList<>();
            q.onQuarantine(x -> reported.add(x.id() + " " + x.reason()));
            q.leaseDue(clock.instant(), 10);
            assertThrows(IOException.class, () -> read(q, bad.id()));
            QueueEntry after = q.recordOutcome(bad.id(), Map.of("a@x.example",
                    new DeliveryOutcome.Deferred("451 local: cannot read the message")), clock.instant()).orElseThrow();
            assertEquals(EntryState.QUARANTINED, after.state());
            assertEquals(1, reported.size());
            assertTrue(reported.get(0).startsWith(bad.id().value() + " message bytes do not match"), reported.get(0));
            assertEquals("Received: test\r\na message that stays", read(q, good.id()));
            assertTrue(q.leaseDue(clock.instant(), 10).isEmpty(), "a quarantined entry is not leased again");
        }
        try (MapDbQueue q = open(dir, clock)) {
            assertEquals(EntryState.QUARANTINED, q.get(bad.id()).orElseThrow().state(), "durable");
        }
    }

    @Test
    void aLargeMessageWhoseFileChangedOnDiskIsQuarantinedNotSent() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("large");
        QueueEntry large;
        try (MapDbQueue q = open(dir, clock)) {
            large = put(q, "L".repeat(Spool.SMALL + 100), "a@x.example");
        }
        flip(dir.resolve("spool").resolve(large.id().value()), 1000);
        try (MapDbQueue q = open(dir, clock)) {
            assertThrows(IOException.class, () -> read(q, large.id()));
            assertEquals(EntryState.QUARANTINED, q.get(large.id()).orElseThrow().state(),
                    "not leased: quarantined at once");
        }
    }

    @Test
    void aWriteTornByACrashIsNotReportedAsDamage() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("torn");
        MapDbQueue q = open(dir, clock);
        q.hooks.indexGate = new CountDownLatch(1);
        QueueEntry first = put(q, "first", "a@x.example");
        put(q, "x".repeat(20_000), "a@x.example");
        q.crashForTest();
        Spool spool = new Spool(dir.resolve("spool"));
        List<AcceptRecords.Scanned> records = AcceptRecords.of(spool, 0, 0);
        spool.close();
        AcceptRecords.Scanned last = records.get(1);
        // The kernel copies a write page by page; a kill between pages leaves the last ones zero.
        // A torn write never reached its fsync: the segment was synced up to the first record.
        SyncedLengths synced = new SyncedLengths(dir.resolve("spool.synced"));
        synced.write(0, records.get(0).end());
        synced.close();
        try (FileChannel ch = FileChannel.open(onlySegment(dir), StandardOpenOption.WRITE)) {
            long from = (last.end() - 1) / 4096 * 4096;
            ch.write(ByteBuffer.allocate((int) (last.end() - from)), from);
        }
        try (MapDbQueue back = open(dir, clock)) {
            assertEquals(List.of(first.id()), back.list().stream().map(QueueEntry::id).toList());
            assertEquals(List.of(), back.quarantinedAtOpen());
        }
    }

    /**
     * The same bytes zeroed in a record that was synced (so acknowledged): damage that only looks
     * like a torn write, told apart by the synced length, and quarantined with a log line.
     */
    @Test
    void anAcknowledgedTailZeroedOrCutIsQuarantinedNotTakenForATornWrite() throws Exception {
        for (boolean cut : new boolean[] {false, true}) {
            MutableClock clock = new MutableClock();
            Path dir = root.resolve(cut ? "cut" : "zeroed");
            MapDbQueue q = open(dir, clock);
            q.hooks.indexGate = new CountDownLatch(1);
            QueueEntry first = put(q, "first", "a@x.example");
            QueueEntry second = put(q, "x".repeat(20_000), "a@x.example");
            q.crashForTest();
            Spool spool = new Spool(dir.resolve("spool"));
            AcceptRecords.Scanned last = AcceptRecords.of(spool, 0, 0).get(1);
            spool.close();
            try (FileChannel ch = FileChannel.open(onlySegment(dir), StandardOpenOption.WRITE)) {
                long from = (last.end() - 1) / 4096 * 4096;
                if (cut) {
                    ch.truncate(last.start() + 100);
                } else {
                    ch.write(ByteBuffer.allocate((int) (last.end() - from)), from);
                }
            }
            try (MapDbQueue back = open(dir, clock)) {
                assertEquals(List.of(first.id()), back.list().stream().map(QueueEntry::id).toList());
                assertEquals(List.of(String.format("seg-%016x@%d", 0, last.start())),
                        back.quarantinedAtOpen().stream().map(MapDbQueue.Quarantined::id).toList(),
                        second.id() + "'s record is kept as a damaged range, with a log line");
            }
        }
    }
}
