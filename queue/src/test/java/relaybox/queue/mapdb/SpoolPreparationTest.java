package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.Envelope;
import relaybox.queue.MutableClock;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;
import relaybox.relay.intake.Awaits;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The spool's zeroing of the current segment ahead of its appends (Spool.PREPARE_AHEAD). */
class SpoolPreparationTest {

    @TempDir
    Path root;

    private static SpoolAppended append(Spool spool, byte[] body) throws Exception {
        return spool.appendRecord(loc -> entry(loc.offset()), body, body.length, null);
    }

    /** A stand-in for the entry record: its length must not depend on the location. */
    private static byte[] entry(long offset) {
        return String.format("entry@%016x", offset).getBytes(StandardCharsets.US_ASCII);
    }

    private static void waitFor(java.util.function.BooleanSupplier condition, String what) throws InterruptedException {
        Awaits.until(condition, what);
    }

    private static byte[] body(int i) {
        byte[] b = new byte[4096 + i % 97];
        java.util.Arrays.fill(b, (byte) ('a' + i % 26));
        return b;
    }

    /**
     * The open starts the segment its first write goes to, and the preparer zeroes it, before any
     * mail: the run's first outcome (under the queue's lock) or accept does not create a file.
     */
    @Test
    void anOpenStartsTheSegmentItsFirstWriteGoesToBeforeAnyMail() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("queue");
        Path spoolDir = dir.resolve("spool");
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            relaybox.queue.QueueContract.put(q, "before the restart", "a@x.example");
        }
        List<String> before = segments(spoolDir);
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            List<String> atOpen = segments(spoolDir);
            assertEquals(before.size() + 1, atOpen.size(), "segments before " + before + ", at the open " + atOpen);
            Path next = spoolDir.resolve(atOpen.get(atOpen.size() - 1));
            waitFor(() -> size(next) >= Spool.PREPARE_AHEAD, "the new segment zeroed ahead before any mail");
            relaybox.queue.QueueContract.put(q, "after the restart", "a@x.example");
            assertEquals(atOpen, segments(spoolDir), "the first write went to the segment the open started");
            assertEquals(1, AcceptRecords.of(q.spool, Long.parseLong(next.getFileName().toString().substring(4), 16), 0)
                    .size(), "its record is in that segment");
        }
    }

    /**
     * When the open cannot start the next segment, the first write starts it; the segment before
     * is still a recovered one, which an open after damage keeps even with nothing referring to it.
     */
    @Test
    void aFirstWriteThatStartsTheSegmentLeavesTheRecoveredOneToTheOpen() throws Exception {
        Path dir = root.resolve("fallback");
        Spool first = new Spool(dir);
        first.appendJournal(SpoolRecord.Kind.REMOVE, SpoolRecord.id("x"));
        first.close();
        Spool spool = new Spool(dir);
        try {
            spool.removeOrphans(List.of(), true, false);
            assertTrue(Files.exists(spool.segment(0)), "kept by an open that saw damage");
            Files.createDirectory(spool.segment(1));
            spool.startAppending();
            assertTrue(Files.isDirectory(spool.segment(1)), "the open could not start segment 1");
            Files.delete(spool.segment(1));
            spool.appendJournal(SpoolRecord.Kind.REMOVE, SpoolRecord.id("y"));
            assertTrue(Files.isRegularFile(spool.segment(1)), "the first write started segment 1");
            assertTrue(Files.exists(spool.segment(0)), "the recovered segment was deleted by the first write");
        } finally {
            spool.close();
        }
    }

    private static List<String> segments(Path spoolDir) throws java.io.IOException {
        try (java.util.stream.Stream<Path> s = Files.list(spoolDir)) {
            return s.map(p -> p.getFileName().toString()).filter(n -> n.startsWith("seg-")).sorted().toList();
        }
    }

    @Test
    void theCurrentSegmentIsZeroedAheadOfItsRecordsAndAScanEndsAtTheLastRecord() throws Exception {
        Spool spool = new Spool(root.resolve("spool"));
        spool.startPreparing(n -> true);
        try {
            SpoolAppended first = append(spool, body(0));
            waitFor(() -> spool.preparedAhead() >= Spool.PREPARE_AHEAD, "the segment is zeroed ahead");
            Path seg = root.resolve("spool").resolve("seg-0000000000000000");
            long end = first.location().offset() + first.location().length();
            assertTrue(Files.size(seg) >= end + Spool.PREPARE_AHEAD, "file size " + Files.size(seg));
            byte[] all = Files.readAllBytes(seg);
            for (long i = end; i < all.length; i++) {
                assertEquals(0, all[(int) i], "byte " + i + " past the last record");
            }
            // Records appended into the zeros are found by the scan, and the scan stops at the zeros.
            List<SpoolAppended> more = new ArrayList<>();
            for (int i = 1; i <= 5; i++) {
                more.add(append(spool, body(i)));
            }
            spool.sync();
            List<AcceptRecords.Scanned> scanned = AcceptRecords.of(spool, 0, 0);
            assertEquals(6, scanned.size());
            assertEquals(more.get(4).recordStart(), scanned.get(5).start());
            assertArrayEquals(entry(more.get(4).location().offset()), scanned.get(5).entry());
        } finally {
            spool.close();
        }
        assertFalse(spool.preparerAlive(), "close ends the preparer");
    }

    @Test
    void withoutRoomForZerosAppendsJustGrowTheFile() throws Exception {
        Spool spool = new Spool(root.resolve("spool"));
        CountDownLatch asked = new CountDownLatch(1);
        spool.startPreparing(n -> {
            asked.countDown();
            return false;
        });
        try {
            SpoolAppended a = append(spool, body(0));
            assertTrue(asked.await(10, TimeUnit.SECONDS), "the preparer asked for room");
            // Waits for something not to happen (a segment prepared although room was refused):
            // no event marks its absence; the preparer acts within milliseconds of asking.
            Thread.sleep(50);
            assertEquals(0, spool.preparedAhead());
            assertEquals(a.location().offset() + a.location().length(),
                    Files.size(root.resolve("spool").resolve("seg-0000000000000000")));
        } finally {
            spool.close();
        }
    }

    /**
     * Zeros are written while appends race them, across a segment roll-over: a zero landing on
     * a record would break its CRC and end the scan early.
     */
    @Test
    void zerosNeverLandOnARecordWhileAppendsRaceThem() throws Exception {
        Spool spool = new Spool(root.resolve("spool"));
        spool.startPreparing(n -> true);
        int perThread = 5_000;
        int threads = 4;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        try {
            List<Future<?>> done = new ArrayList<>();
            for (int t = 0; t < threads; t++) {
                int base = t * perThread;
                done.add(pool.submit(() -> {
                    for (int i = 0; i < perThread; i++) {
                        append(spool, body(base + i));
                    }
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            spool.sync();
            List<Long> segments = spool.segmentNumbers();
            assertTrue(segments.size() >= 2, "the appends rolled over into a second segment: " + segments);
            int records = 0;
            for (long n : segments) {
                List<AcceptRecords.Scanned> scanned = AcceptRecords.of(spool, n, 0);
                records += scanned.size();
                for (AcceptRecords.Scanned s : scanned) {
                    assertEquals(entry(0).length, s.entry().length);
                }
            }
            assertEquals(threads * perThread, records);
        } finally {
            pool.shutdownNow();
            spool.close();
        }
    }

    @Test
    void theQueueZeroesAheadOnlyWithRoomBeyondItsReserve() throws Exception {
        MutableClock clock = new MutableClock();
        Envelope env = new Envelope("a@x.example", List.of("b@x.example"), false, false, "127.0.0.1", "h", "");
        Path roomy = root.resolve("roomy");
        try (MapDbQueue q = MapDbQueue.open(roomy, 0, RetrySchedule.DEFAULT, clock)) {
            accept(q, env);
            Path seg = roomy.resolve("spool").resolve("seg-0000000000000000");
            waitFor(() -> size(seg) >= Spool.PREPARE_AHEAD, "the queue's segment is zeroed ahead");
        }

        // A reserve that leaves less than FreeSpace.MARGIN above it: accepted, but no zeros.
        Path tight = root.resolve("tight");
        Files.createDirectories(tight);
        long reserve = tight.toFile().getUsableSpace() - FreeSpace.MARGIN * 3 / 4;
        try (MapDbQueue q = MapDbQueue.open(tight, reserve, RetrySchedule.DEFAULT, clock)) {
            QueueEntry e = accept(q, env);
            // Waits for something not to happen (zeros written ahead near the reserve): the
            // preparer runs right after an append, well within this.
            Thread.sleep(200);
            Path seg = tight.resolve("spool").resolve("seg-0000000000000000");
            assertTrue(size(seg) < 64 << 10, "no zeros near the reserve, segment is " + size(seg) + " bytes");
            assertTrue(q.get(e.id()).isPresent());
        }
    }

    private static QueueEntry accept(MapDbQueue q, Envelope env) throws Exception {
        Queue.Incoming in = q.receive();
        in.body().write("Subject: x\r\n\r\nbody\r\n".getBytes(StandardCharsets.US_ASCII));
        return q.accept(in, env, "");
    }

    private static long size(Path p) {
        try {
            return Files.size(p);
        } catch (java.io.IOException e) {
            return -1;
        }
    }
}
