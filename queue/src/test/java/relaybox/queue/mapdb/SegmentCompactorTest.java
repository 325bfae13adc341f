package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.MutableClock;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static relaybox.queue.QueueContract.put;
import static relaybox.queue.QueueContract.read;

/**
 * Space reclamation in the spool ({@link SegmentCompactor}), on real MapDB and spool files with
 * small segments: the scenario of issue 16 (one failure per segment's worth of traffic), reads
 * that span a compaction, large messages' records, a kill at every step of a compaction (seeded),
 * and the free space reserve.
 */
class SegmentCompactorTest {

    /**
     * Small segments, so a CI run covers many of them: 1 MiB, about 240 messages of 4 KiB. The
     * issue's own size runs with {@code -Dcompact.segment=67108864 -Dcompact.rounds=3}.
     */
    static final long SEGMENT = Long.getLong("compact.segment", 1L << 20);
    static final int BODY = 4 << 10;
    static final String RCPT = "a@x.example";

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path root;

    private static MapDbQueue open(Path dir, MutableClock clock, int livePercent) throws QueueException {
        return MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock,
                new SegmentCompactor.Settings(livePercent, Duration.ZERO, Duration.ofHours(1)), SEGMENT);
    }

    private static String body(int n) {
        String head = "Subject: message " + n + "\r\n\r\n";
        StringBuilder b = new StringBuilder(head);
        while (b.length() < BODY) {
            b.append("line ").append(n).append(" of the body of a message kept in a spool segment\r\n");
        }
        return b.substring(0, BODY);
    }

    /** The queue's view of one run of the scenario, for the figures and the rebuild check. */
    private static final class Traffic {
        final Set<QueueId> delivered = new HashSet<>();
        final Map<QueueId, String> failed = new HashMap<>();
        int sent;
    }

    /**
     * One segment's worth of messages: all leased and delivered, except one that fails with a 550
     * (kept as FAILED, as the queue keeps failed entries).
     */
    private static void oneSegmentOfTraffic(MapDbQueue q, MutableClock clock, Traffic t) throws Exception {
        int perSegment = (int) (SEGMENT / (BODY + 400));
        Map<QueueId, String> bodies = new HashMap<>();
        for (int i = 0; i < perSegment; i++) {
            String b = body(t.sent++);
            bodies.put(put(q, b, RCPT).id(), b);
        }
        boolean failedOne = false;
        for (QueueEntry e : q.leaseDue(clock.instant(), perSegment)) {
            if (!failedOne) {
                failedOne = true;
                q.recordOutcome(e.id(), Map.of(RCPT, new DeliveryOutcome.Failed("550 5.1.1 no such user")),
                        clock.instant());
                t.failed.put(e.id(), bodies.get(e.id()));
            } else {
                q.recordOutcome(e.id(), Map.of(RCPT, new DeliveryOutcome.Delivered("250 ok")), clock.instant());
                t.delivered.add(e.id());
            }
        }
        flush(q);
    }

    /**
     * Outcomes reach the index behind the sends; an admin write waits for every write queued
     * before it (here the delete of a message accepted for the purpose), and a second one for
     * the releases of spool references that follow the first one's commit.
     */
    private static void flush(MapDbQueue q) throws Exception {
        q.delete(put(q, "flush", RCPT).id());
        q.delete(put(q, "flush", RCPT).id());
    }

    /** Runs the scenario; returns {spool bytes, live bytes} after each round. */
    private static List<long[]> rounds(MapDbQueue q, MutableClock clock, Traffic t, int rounds, long[] reclaimed)
            throws Exception {
        List<long[]> out = new ArrayList<>();
        for (int r = 0; r < rounds; r++) {
            oneSegmentOfTraffic(q, clock, t);
            reclaimed[0] += q.hooks.compactNow().segments();
            flush(q);
            out.add(q.hooks.spoolBytes());
        }
        return out;
    }

    @Test
    void spoolStaysBoundedWithOneFailurePerSegmentAndARebuildResendsNothing() throws Exception {
        int rounds = Integer.getInteger("compact.rounds", 12);
        MutableClock clock = new MutableClock();
        // Before: compaction off (a segment goes only when nothing refers to it), as it was.
        List<long[]> before;
        try (MapDbQueue q = open(root.resolve("off"), clock, 0)) {
            before = rounds(q, clock, new Traffic(), rounds, new long[1]);
        }
        Path dir = root.resolve("on");
        Traffic t = new Traffic();
        List<long[]> after;
        long[] reclaimed = {0};
        try (MapDbQueue q = open(dir, clock, 25)) {
            after = rounds(q, clock, t, rounds, reclaimed);
        }
        System.out.printf("reclamation scenario: %d rounds of one segment (%d KiB) with one failure each;"
                + " spool bytes before (compaction off) %d, after %d; segments reclaimed %d%n",
                rounds, SEGMENT >> 10, before.get(rounds - 1)[0], after.get(rounds - 1)[0], reclaimed[0]);
        System.out.println("round  spool_bytes_before  live_before  spool_bytes_after  live_after");
        for (int r = 0; r < rounds; r++) {
            System.out.printf("%5d  %18d  %11d  %17d  %10d%n", r + 1, before.get(r)[0], before.get(r)[1],
                    after.get(r)[0], after.get(r)[1]);
        }
        long[] last = after.get(rounds - 1);
        // Closed segments hold at least 25% live bytes after a pass, so at most 4x live; the
        // segment being appended to (and the one just closed) come on top, whatever the live bytes.
        long bound = 4 * last[1] + 2 * SEGMENT;
        assertTrue(last[0] <= bound, "spool " + last[0] + " bytes, want <= " + bound + " (live " + last[1] + ")");
        assertTrue(before.get(rounds - 1)[0] > bound, "the scenario must overflow the bound without compaction");

        // A forced rebuild: the index is gone, everything comes back from the spool's records.
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                if (p.getFileName().toString().startsWith("queue.db")) {
                    Files.delete(p);
                }
            }
        }
        try (MapDbQueue q = open(dir, clock, 25)) {
            List<QueueEntry> back = q.list();
            Set<QueueId> sendable = back.stream()
                    .filter(e -> e.state() == EntryState.QUEUED || e.state() == EntryState.DEFERRED)
                    .map(QueueEntry::id).collect(Collectors.toSet());
            long resent = sendable.stream().filter(t.delivered::contains).count();
            long failedAgain = sendable.stream().filter(t.failed::containsKey).count();
            System.out.printf("forced rebuild: %d entries back, %d delivered messages queued again,"
                    + " %d failed ones queued again%n", back.size(), resent, failedAgain);
            assertEquals(0, resent, "delivered messages queued again by the rebuild");
            Map<QueueId, Long> perId = back.stream().collect(Collectors.groupingBy(QueueEntry::id, Collectors.counting()));
            assertTrue(perId.values().stream().allMatch(c -> c == 1), "one entry per queue id");
            for (Map.Entry<QueueId, String> f : t.failed.entrySet()) {
                assertEquals(EntryState.FAILED, q.get(f.getKey()).orElseThrow().state(), f.getKey() + " (failed) is kept");
                assertEquals("Received: test\r\n" + f.getValue(), read(q, f.getKey()));
            }
        }
    }

    /** A closed segment with {@code keep} live messages left in it and everything else delivered. */
    private static List<QueueEntry> mostlyDeadSegment(MapDbQueue q, MutableClock clock, int keep) throws Exception {
        List<QueueEntry> kept = new ArrayList<>();
        List<QueueEntry> all = new ArrayList<>();
        // More than a segment holds, so the first one is closed.
        for (int i = 0; i < SEGMENT / BODY + 5; i++) {
            all.add(put(q, body(i), RCPT));
        }
        long first = q.hooks.location(all.get(0).id()).segment();
        for (QueueEntry e : q.leaseDue(clock.instant(), all.size())) {
            boolean inFirst = q.hooks.location(e.id()).segment() == first;
            if (inFirst && kept.size() < keep) {
                kept.add(q.recordOutcome(e.id(), Map.of(RCPT, new DeliveryOutcome.Deferred("451 later")),
                        clock.instant()).orElseThrow());
            } else {
                q.recordOutcome(e.id(), Map.of(RCPT, new DeliveryOutcome.Delivered("250 ok")), clock.instant());
            }
        }
        flush(q);
        return kept;
    }

    private static Path segmentFile(Path dir, long n) {
        return dir.resolve("spool").resolve(String.format("seg-%016x", n));
    }

    /** A message opened before its segment is compacted away reads whole, and afterwards from the copy. */
    @Test
    void aMessageBeingReadKeepsReadingWhileItsSegmentIsCompactedAway() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("read");
        try (MapDbQueue q = open(dir, clock, 25)) {
            QueueEntry kept = mostlyDeadSegment(q, clock, 1).get(0);
            long seg = q.hooks.location(kept.id()).segment();
            String want = read(q, kept.id());
            byte[] got;
            try (InputStream in = q.openMessage(kept.id())) {
                byte[] head = in.readNBytes(100);
                SegmentCompactor.Pass p = q.hooks.compactNow();
                assertEquals(1, p.copied(), "copied");
                assertFalse(Files.exists(segmentFile(dir, seg)), "the old segment is deleted");
                got = concat(head, in.readAllBytes());
            }
            assertEquals(want, new String(got, StandardCharsets.UTF_8), "read across the compaction");
            assertNotEquals(seg, q.hooks.location(kept.id()).segment());
            assertEquals(want, read(q, kept.id()), "read from the copy");
        }
        try (MapDbQueue q = open(dir, clock, 25)) {
            assertEquals(1, q.list().size());
        }
    }

    /**
     * The window inside an open: a message whose segment is deleted (its last live record moved)
     * after the read pinned it is still read whole, from the deleted file's open channel.
     */
    @Test
    void aPinnedSegmentStaysReadableAfterItIsDeleted() throws Exception {
        Spool spool = new Spool(root.resolve("pin"), SEGMENT);
        try {
            byte[] body = body(1).getBytes(StandardCharsets.UTF_8);
            SpoolFixtures.Placed placed = SpoolFixtures.onlyRecordOfAFullSegment(spool, body, RCPT);
            QueueEntry e = placed.entry();
            SpoolAppended a = placed.at();
            Path file = root.resolve("pin").resolve(String.format("seg-%016x", a.segment()));
            assertTrue(Files.exists(file));

            assertTrue(spool.pin(a.segment()));
            spool.release(e.id(), a.location());
            assertFalse(Files.exists(file), "deleted once nothing refers to it");
            try (InputStream in = spool.open(e.id(), a.location())) {
                assertEquals(new String(body, StandardCharsets.UTF_8),
                        new String(in.readAllBytes(), StandardCharsets.UTF_8), "read after the delete");
            }
            spool.unpin(a.segment());
            assertThrows(java.nio.file.NoSuchFileException.class, () -> spool.open(e.id(), a.location()),
                    "the last reader closed the channel");
        } finally {
            spool.close();
        }
    }

    /** Live (not dead-marked) ACCEPT records per queue id, in every segment of the spool. */
    private static Map<QueueId, Integer> liveAcceptRecords(Path dir) throws Exception {
        Map<QueueId, Integer> out = new HashMap<>();
        try (var files = Files.list(dir.resolve("spool"))) {
            for (Path p : files.filter(f -> f.getFileName().toString().startsWith("seg-")).toList()) {
                SegmentScanner.scan(p, 0, new SegmentScanner.Visitor() {
                    @Override
                    public void record(SpoolRecord.Kind kind, long start, long end, byte[] payload) {
                        if (kind != SpoolRecord.Kind.ACCEPT) {
                            return;
                        }
                        try {
                            out.merge(EntryCodec.decodeStored(SpoolRecord.inner(payload)).entry().id(), 1, Integer::sum);
                        } catch (EntryCodec.DecodeException e) {
                            throw new AssertionError(e);
                        }
                    }

                    @Override
                    public void damaged(long start, long end) {
                        // The kill test's pinned message, damaged on purpose.
                    }
                });
            }
        }
        return out;
    }

    private static byte[] concat(byte[] a, byte[] b) {
        byte[] out = java.util.Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, out, a.length, b.length);
        return out;
    }

    /** An entry being sent is moved too: the send reads what it opened, the outcome lands on the copy. */
    @Test
    void anEntryBeingSentIsMovedAndItsOutcomeLandsOnTheCopy() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("sending");
        try (MapDbQueue q = open(dir, clock, 25)) {
            QueueEntry kept = mostlyDeadSegment(q, clock, 1).get(0);
            long seg = q.hooks.location(kept.id()).segment();
            clock.advance(Duration.ofDays(1));
            assertEquals(List.of(kept.id()), q.leaseDue(clock.instant(), 10).stream().map(QueueEntry::id).toList());
            assertEquals(1, q.hooks.compactNow().copied());
            assertNotEquals(seg, q.hooks.location(kept.id()).segment());
            q.recordOutcome(kept.id(), Map.of(RCPT, new DeliveryOutcome.Failed("550 no")), clock.instant());
            flush(q);
            assertFalse(Files.exists(segmentFile(dir, seg)));
        }
        try (MapDbQueue q = open(dir, clock, 25)) {
            assertEquals(EntryState.FAILED, q.get(kept(q)).orElseThrow().state());
        }
    }

    /**
     * Entries opened for sending, then moved before their outcomes: the outcomes' journal records
     * go by the copies, not by the locations remembered when the messages were opened (which
     * spare the outcome a MapDB read), so a rebuild of the index from the spool keeps the failed
     * entry with its message and does not bring the delivered one back.
     */
    @Test
    void entriesOpenedForSendingThenMovedJournalTheirOutcomesAtTheCopies() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("opened");
        QueueId failed;
        String failedBody;
        List<QueueEntry> leased;
        try (MapDbQueue q = open(dir, clock, 25)) {
            long seg = q.hooks.location(mostlyDeadSegment(q, clock, 2).get(0).id()).segment();
            clock.advance(Duration.ofDays(1));
            leased = q.leaseDue(clock.instant(), 10);
            assertEquals(2, leased.size());
            Map<QueueId, String> bodies = new HashMap<>();
            for (QueueEntry e : leased) {
                try (InputStream in = q.openMessage(e.id())) {
                    bodies.put(e.id(), new String(in.readAllBytes(), StandardCharsets.UTF_8));
                }
            }
            assertEquals(2, q.hooks.compactNow().copied());
            assertFalse(Files.exists(segmentFile(dir, seg)), "the old segment is deleted");
            failed = leased.get(0).id();
            failedBody = bodies.get(failed);
            q.recordOutcome(failed, Map.of(RCPT, new DeliveryOutcome.Failed("550 no")), clock.instant());
            q.recordOutcome(leased.get(1).id(), Map.of(RCPT, new DeliveryOutcome.Delivered("250 ok")),
                    clock.instant());
            flush(q);
        }
        // The delivered entry's copy is marked dead: a rebuild that no longer has its REMOVE
        // record (gone with its segment) would otherwise send it again.
        Map<QueueId, Integer> live = liveAcceptRecords(dir);
        assertEquals(1, live.get(failed), "the failed entry's copy is live");
        assertEquals(null, live.get(leased.get(1).id()), "the delivered entry's copy is marked dead");
        deleteIndex(dir);
        try (MapDbQueue q = open(dir, clock, 25)) {
            assertEquals(List.of(failed), q.list().stream().map(QueueEntry::id).toList(), "the failed entry alone");
            assertEquals(EntryState.FAILED, q.get(failed).orElseThrow().state());
            try (InputStream in = q.openMessage(failed)) {
                assertEquals(failedBody, new String(in.readAllBytes(), StandardCharsets.UTF_8));
            }
        }
    }

    private static QueueId kept(MapDbQueue q) {
        return q.list().get(0).id();
    }

    @Test
    void compactionNeverWritesBelowTheFreeSpaceReserve() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("reserve");
        try (MapDbQueue q = open(dir, clock, 25)) {
            QueueEntry kept = mostlyDeadSegment(q, clock, 3).get(0);
            long seg = q.hooks.location(kept.id()).segment();
            // Room for less than the three live messages: nothing is copied, nothing deleted.
            q.hooks.compactionRoom = 2L * BODY;
            assertEquals(0, q.hooks.compactNow().segments());
            assertTrue(Files.exists(segmentFile(dir, seg)));
            q.hooks.compactionRoom = 100L * BODY;
            assertEquals(3, q.hooks.compactNow().copied());
            assertFalse(Files.exists(segmentFile(dir, seg)));
        }
    }

    /** Thrown by the test hook where the queue is to die. */
    private static final class Killed extends RuntimeException {
        Killed(String point) {
            super("killed at " + point);
        }
    }

    /** The moments of one compaction, in order; "copied" repeats once per moved record. */
    private static final List<String> POINTS = List.of("copied", "synced", "relocating", "committed", "after");

    /**
     * A kill at every moment of a compaction (each moment once per seeded trial, the copy of
     * which record seeded): the open afterwards has every kept entry, with its state and bytes,
     * and one live ACCEPT record each; a later pass finishes the job; and a rebuild of the index
     * from the spool, right after the kill or after that pass, queues no delivered message again.
     */
    @Test
    void aKillAtAnyMomentOfACompactionLosesNothingAndARebuildResendsNothing() throws Exception {
        long seed = Long.getLong("compact.seed", System.nanoTime());
        System.out.println("SegmentCompactorTest kill points seed=" + seed);
        java.util.Random random = new java.util.Random(seed);
        int trial = 0;
        for (String point : POINTS) {
            int nth = point.equals("copied") ? 1 + random.nextInt(4) : 1;
            try {
                killAt(root.resolve("kill-" + trial++), point, nth, random.nextLong());
            } catch (AssertionError | Exception e) {
                throw new AssertionError("seed=" + seed + " point=" + point + " nth=" + nth + ": " + e, e);
            }
        }
    }

    private void killAt(Path dir, String point, int nth, long seed) throws Exception {
        MutableClock clock = new MutableClock();
        MapDbQueue q = open(dir, clock, 25);
        sceneDir = dir;
        Scene scene = scene(q, clock, new java.util.Random(seed));
        int[] seen = {0};
        q.hooks.compaction = p -> {
            if (point.equals("relocating") && p.equals("synced")) {
                // The committer stops before the switch: the kill comes between it being queued and committed.
                q.hooks.indexGate = new CountDownLatch(1);
            }
            if (p.equals(point) && ++seen[0] == nth) {
                throw new Killed(p);
            }
        };
        try {
            q.hooks.compactNow();
        } catch (Killed | java.io.IOException expected) {
            // The kill, seen by the compactor itself or through the commit it waited for.
        }
        assertEquals(point.equals("after") ? 0 : 1, seen[0] == nth ? 1 : 0, "the kill point was not reached");
        q.crashForTest();
        Path rebuilt = dir.resolveSibling(dir.getFileName() + "-rebuilt");
        copyTree(dir, rebuilt);
        deleteIndex(rebuilt);
        try (MapDbQueue back = open(dir, clock, 25)) {
            // No segment is compacted before the cross-check after the kill has run.
            CrossChecks.await(back);
            scene.check(back, "open after the kill");
            Map<QueueId, Integer> live = liveAcceptRecords(dir);
            for (QueueId id : scene.kept.keySet()) {
                assertEquals(1, live.getOrDefault(id, 0), "live ACCEPT records of " + id + " after the open");
            }
            back.hooks.compactNow();
            flush(back);
            for (QueueId id : scene.kept.keySet()) {
                assertNotEquals(scene.segment, back.hooks.location(id).keeps(), id + " moved by the second pass");
            }
            scene.check(back, "after a second pass");
        }
        deleteIndex(dir);
        try (MapDbQueue back = open(dir, clock, 25)) {
            scene.check(back, "rebuild after the second pass");
        }
        try (MapDbQueue back = open(rebuilt, clock, 25)) {
            scene.check(back, "rebuild right after the kill");
        }
    }

    /** A compactable segment: a few small and one large message left in it, the rest delivered. */
    private static final class Scene {
        final Map<QueueId, String> kept = new HashMap<>();
        final Map<QueueId, EntryState> states = new HashMap<>();
        final Set<QueueId> delivered = new HashSet<>();
        /** Left in the segment with a damaged byte, which no pass copies: the segment stays. */
        QueueId pinned;
        long segment;

        void check(MapDbQueue q, String when) throws Exception {
            for (Map.Entry<QueueId, String> k : kept.entrySet()) {
                QueueEntry e = q.get(k.getKey()).orElseThrow(() -> new AssertionError(when + ": " + k.getKey() + " lost"));
                assertEquals(states.get(k.getKey()), e.state(), when + ": state of " + k.getKey());
                assertEquals(k.getValue(), read(q, k.getKey()), when + ": bytes of " + k.getKey());
            }
            for (QueueId d : delivered) {
                assertFalse(q.get(d).isPresent(), when + ": delivered " + d + " queued again");
            }
            assertEquals(kept.keySet(), q.list().stream().map(QueueEntry::id).filter(id -> !id.equals(pinned))
                    .collect(Collectors.toSet()), when + ": entries");
        }
    }

    private static Path sceneDir;

    private static Path dir(MapDbQueue q) {
        return sceneDir;
    }

    private static Scene scene(MapDbQueue q, MutableClock clock, java.util.Random random) throws Exception {
        Scene s = new Scene();
        List<QueueEntry> all = new ArrayList<>();
        Map<QueueId, String> bodies = new HashMap<>();
        char[] big = new char[Spool.SMALL + 1 + random.nextInt(4000)];
        java.util.Arrays.fill(big, 'x');
        QueueEntry large = put(q, "Subject: large\r\n\r\n" + new String(big), RCPT);
        bodies.put(large.id(), "Subject: large\r\n\r\n" + new String(big));
        for (int i = 0; i < SEGMENT / BODY + 5; i++) {
            String b = body(i);
            QueueEntry e = put(q, b, RCPT);
            all.add(e);
            bodies.put(e.id(), b);
        }
        s.segment = q.hooks.location(all.get(0).id()).segment();
        Set<QueueId> keep = new HashSet<>(Set.of(large.id()));
        while (keep.size() < 5) {
            QueueEntry e = all.get(random.nextInt(all.size()));
            if (q.hooks.location(e.id()).segment() == s.segment) {
                keep.add(e.id());
            }
        }
        for (QueueEntry e : q.leaseDue(clock.instant(), all.size() + 1)) {
            if (!keep.contains(e.id())) {
                q.recordOutcome(e.id(), Map.of(RCPT, new DeliveryOutcome.Delivered("250 ok")), clock.instant());
                s.delivered.add(e.id());
                continue;
            }
            DeliveryOutcome o = random.nextBoolean() ? new DeliveryOutcome.Failed("550 no such user")
                    : new DeliveryOutcome.Deferred("451 later");
            QueueEntry next = q.recordOutcome(e.id(), Map.of(RCPT, o), clock.instant()).orElseThrow();
            if (s.pinned == null && !e.id().equals(large.id())) {
                s.pinned = e.id();
                continue;
            }
            s.kept.put(e.id(), "Received: test\r\n" + bodies.get(e.id()));
            s.states.put(e.id(), next.state());
        }
        flush(q);
        // Queued in the segment the copies go to, so that it stays after a kill.
        QueueEntry tail = put(q, "Subject: tail\r\n\r\nqueued behind the others\r\n", RCPT);
        s.kept.put(tail.id(), "Received: test\r\nSubject: tail\r\n\r\nqueued behind the others\r\n");
        s.states.put(tail.id(), EntryState.QUEUED);
        SpoolLocation at = q.hooks.location(s.pinned);
        try (java.nio.channels.FileChannel ch = java.nio.channels.FileChannel.open(
                segmentFile(dir(q), at.segment()), java.nio.file.StandardOpenOption.WRITE)) {
            ch.write(java.nio.ByteBuffer.wrap(new byte[] {0x7f}), at.offset() + 10);
        }
        return s;
    }

    private static void deleteIndex(Path dir) throws Exception {
        try (var files = Files.list(dir)) {
            for (Path p : files.toList()) {
                if (p.getFileName().toString().startsWith("queue.db")) {
                    Files.delete(p);
                }
            }
        }
    }

    private static void copyTree(Path from, Path to) throws Exception {
        try (var s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(from.relativize(p).toString()));
            }
        }
    }

    @Test
    void theBackgroundThreadReclaimsOnItsOwn() throws Exception {
        MutableClock clock = new MutableClock();
        Path dir = root.resolve("background");
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock,
                new SegmentCompactor.Settings(25, Duration.ZERO, Duration.ofMillis(20)), SEGMENT)) {
            QueueEntry kept = mostlyDeadSegment(q, clock, 1).get(0);
            // The first segment of a new spool; the compactor may have moved the entry already.
            long seg = 0;
            String want = read(q, kept.id());
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (Files.exists(segmentFile(dir, seg))) {
                assertTrue(System.nanoTime() < deadline, "segment " + seg + " not reclaimed in 30 s");
                Thread.sleep(10); // Waiting for another thread's timer; bounded by the deadline.
            }
            assertNotEquals(seg, q.hooks.location(kept.id()).segment());
            assertEquals(want, read(q, kept.id()));
        }
    }
}
