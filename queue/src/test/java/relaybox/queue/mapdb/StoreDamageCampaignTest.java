package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.Envelope;
import relaybox.queue.MutableClock;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The damage campaign: a real queue left as a kill -9 leaves it (two segments, records the
 * index has and has not reached, delivered, deferred and dead records, large-message files),
 * then in each seeded trial random ranges of the spool segments, the large-message files and
 * queue.db are flipped, zeroed or cut off, in every combination. After each, the queue must open,
 * and a fake delivery loop drains it. What must hold:
 * <ul>
 * <li>no message is ever handed out with bytes other than those accepted;</li>
 * <li>no message is delivered twice, and none delivered before the damage is delivered again,
 *     unless its own journal records were damaged;</li>
 * <li>every acknowledged, undelivered message whose own bytes are intact is delivered exactly
 *     once when the index is intact, and is never silently dropped by damage elsewhere in the
 *     spool;</li>
 * <li>every damaged one, and every one lost with a damaged index, is quarantined (as an entry, or
 *     in a quarantined range, each with a log line), never dropped silently: a cut or zeroed tail
 *     of its segment is told from a torn write by how far the segment was synced
 *     ({@link SyncedLengths}, the one file the campaign leaves alone: it is the evidence);</li>
 * <li>nothing referenced is deleted: every segment stays, every large file stays or is moved
 *     aside into the quarantine directory;</li>
 * <li>a second open after the drain queues nothing again.</li>
 * </ul>
 * Figures are printed, with the seed ({@code -Ddamage.seed}, {@code -Ddamage.trials}); a failing
 * seed becomes a regression test in {@link #regressionSeeds}.
 */
public class StoreDamageCampaignTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path root;

    private record Message(String tag, byte[] body, boolean deliveredBefore) { }

    /** One message's own bytes: its records' ranges (segment file name to [start, end)) and its file. */
    private static final class Own {
        final List<long[]> accept = new ArrayList<>();
        final List<long[]> journal = new ArrayList<>();
        final Map<long[], String> segmentOf = new HashMap<>();
        String file;
    }

    private final Map<String, Message> messages = new TreeMap<>();
    private final Map<String, Own> own = new HashMap<>();
    private final Map<String, Integer> figures = new TreeMap<>();

    @Test
    void everyTrialOpensAndNoIntactMessageIsLostOrSentTwice() throws Exception {
        long seed = Long.getLong("damage.seed", System.nanoTime());
        int trials = Integer.getInteger("damage.trials", 1000);
        System.out.printf("StoreDamageCampaignTest seed=%d trials=%d%n", seed, trials);
        campaign(seed, 0, trials);
    }

    /**
     * One (seed, trial) run again and again, each time from a freshly built store: the pristine
     * index's layout depends on how the committer's batches fell, so a trial that damages
     * queue.db is not the same trial twice. Runs only with {@code -Ddamage.repeat=N}
     * ({@code -Ddamage.seed}, {@code -Ddamage.first}).
     */
    @Test
    void repeatOneTrial() throws Exception {
        int repeat = Integer.getInteger("damage.repeat", 0);
        org.junit.jupiter.api.Assumptions.assumeTrue(repeat > 0, "-Ddamage.repeat not set");
        long seed = Long.getLong("damage.seed", 15494424777913L);
        int first = Integer.getInteger("damage.first", 702);
        int failed = 0;
        for (int i = 0; i < repeat; i++) {
            try {
                campaign(seed, first, 1);
            } catch (AssertionError e) {
                failed++;
                System.out.printf("StoreDamageCampaignTest repeat %d failed: %s%n", i, e.getMessage());
                if (failed == 1) {
                    e.printStackTrace(System.out);
                }
            }
            delete(root);
            Files.createDirectories(root);
        }
        System.out.printf("StoreDamageCampaignTest seed=%d trial=%d repeated %d times, %d failed%n",
                seed, first, repeat, failed);
        assertEquals(0, failed, "failed runs");
    }

    @Test
    void regressionSeeds() throws Exception {
        // (seed, trial) pairs that once failed, and 20 trials of a fixed seed.
        campaign(2156921817241L, 109, 1); // a cut large file of an entry only the spool had: quarantined, not dropped
        campaign(2156921817241L, 778, 1); // index rebuilt: a segment with only dead records is kept, not deleted
        // A due index key damaged into no queue id: rebuilt, not thrown to the caller. Not the same
        // trial twice (queue.db's layout follows the committer's batches): it also hid entries
        // from the index without a trace, until the open after an unclean stop cross-checked
        // the spool (repeatOneTrial ran it 300 times: 32 failures before, 0 after).
        campaign(15494424777913L, 702, 1);
        campaign(14733079936391L, 523, 1); // a value's pointer fails its parity in leaseDue: rebuilt at the next open
        campaign(17126639731307L, 92, 1); // an index record that no longer decodes: rebuilt, not left waiting unseen
        campaign(25950363005671L, 190, 1); // MapDB failing inside a library it calls (IndexOutOfBounds): damage
        campaign(34075857278819L, 260, 1); // index and both segments cut: the open's new segment deleted none
        campaign(1L, 0, 20);
    }

    private void campaign(long seed, int first, int trials) throws Exception {
        Path pristine = root.resolve("pristine-" + seed + "-" + first);
        messages.clear();
        figures.clear();
        own.clear();
        allRecords.clear();
        bodies.clear();
        deliveredIds.clear();
        build(pristine, new Random(seed));
        for (int t = first; t < first + trials; t++) {
            // Each trial its own generator, so one failing trial can be run alone.
            Random random = new Random(seed * 1_000_003L + t);
            Path dir = root.resolve("t" + t);
            copy(pristine, dir);
            List<String> damage = damage(dir, random);
            try {
                trial(dir, damage);
            } catch (AssertionError | Exception e) {
                throw new AssertionError("seed=" + seed + " trial=" + t + " damage=" + damage + ": " + e, e);
            }
            delete(dir);
        }
        System.out.printf("StoreDamageCampaignTest seed=%d trials=%d messages=%d %s%n", seed, trials,
                messages.size(), figures);
    }

    /** A queue as a kill -9 leaves it; records where every message's own bytes are. */
    private void build(Path dir, Random random) throws Exception {
        MutableClock clock = new MutableClock();
        List<QueueEntry> all = new ArrayList<>();
        MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock);
        batch(q, all, 12, random);
        outcomes(q, all, clock, 4, 2);
        q.close();
        q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock);
        batch(q, all, 12, random);
        outcomes(q, all, clock, 4, 2);
        q.hooks.indexGate = new CountDownLatch(1);
        batch(q, all, 6, random);
        outcomes(q, all, clock, 3, 1);
        q.crashForTest();
        Set<String> delivered = new HashSet<>();
        for (QueueEntry e : all) {
            if (deliveredIds.contains(e.id().value())) {
                delivered.add(e.id().value());
            }
        }
        for (Map.Entry<String, byte[]> b : bodies.entrySet()) {
            messages.put(b.getKey(), new Message(b.getKey(), b.getValue(), delivered.contains(b.getKey())));
        }
        locate(dir);
    }

    private final Map<String, byte[]> bodies = new HashMap<>();
    private final Set<String> deliveredIds = new HashSet<>();

    private void batch(MapDbQueue q, List<QueueEntry> all, int n, Random random) throws Exception {
        for (int i = 0; i < n; i++) {
            int size = i == n - 1 ? Spool.SMALL + 1 + random.nextInt(5000) : 40 + random.nextInt(i % 3 == 0 ? 20_000 : 500);
            byte[] body = new byte[size];
            for (int k = 0; k < size; k++) {
                body[k] = (byte) ('a' + random.nextInt(26));
            }
            Queue.Incoming in = q.receive();
            in.body().write(body);
            QueueEntry e = q.accept(in, Envelope.of("app@example.org", List.of("to@example.net")), "");
            all.add(e);
            bodies.put(e.id().value(), body);
        }
    }

    /** Leases everything due and delivers {@code deliver}, defers {@code defer} of the undelivered, oldest first. */
    private void outcomes(MapDbQueue q, List<QueueEntry> all, MutableClock clock, int deliver, int defer) {
        List<QueueEntry> leased = q.leaseDue(clock.instant().plus(Duration.ofDays(1)), 1000);
        for (QueueEntry e : leased) {
            if (deliver > 0) {
                q.recordOutcome(e.id(), Map.of("to@example.net", new DeliveryOutcome.Delivered("250 ok")), clock.instant());
                deliveredIds.add(e.id().value());
                deliver--;
            } else if (defer > 0) {
                q.recordOutcome(e.id(), Map.of("to@example.net", new DeliveryOutcome.Deferred("451 later")), clock.instant());
                defer--;
            } else {
                q.returnLease(e.id());
            }
        }
    }

    private void locate(Path dir) throws IOException {
        Spool spool = new Spool(dir.resolve("spool"));
        for (long n : spool.segmentNumbers()) {
            String name = spool.segment(n).getFileName().toString();
            spool.scan(n, 0, new SegmentScanner.Visitor() {
                @Override
                public void record(SpoolRecord.Kind kind, long start, long end, byte[] payload) {
                    byte[] inner = SpoolRecord.inner(payload);
                    String id;
                    if (kind == SpoolRecord.Kind.REMOVE) {
                        id = new String(inner, StandardCharsets.UTF_8);
                    } else {
                        try {
                            id = EntryCodec.decodeStored(inner).entry().id().value();
                        } catch (EntryCodec.DecodeException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                    Own o = own.computeIfAbsent(id, k -> new Own());
                    long[] range = {start, end};
                    allRecords.computeIfAbsent(name, k -> new ArrayList<>()).add(range);
                    (kind == SpoolRecord.Kind.ACCEPT || kind == SpoolRecord.Kind.DEAD ? o.accept : o.journal).add(range);
                    o.segmentOf.put(range, name);
                }

                @Override
                public void damaged(long start, long end) {
                    throw new IllegalStateException("pristine spool damaged at " + start);
                }
            });
        }
        for (String id : messages.keySet()) {
            if (Files.exists(dir.resolve("spool").resolve(id))) {
                own.computeIfAbsent(id, k -> new Own()).file = id;
            }
        }
    }

    /** Every record of the pristine spool, per segment file. */
    private final Map<String, List<long[]>> allRecords = new HashMap<>();

    private record Hit(String file, long from, long to) { }

    private final List<Hit> hits = new ArrayList<>();

    /** Damages one to three random ranges in a random non-empty combination of the three kinds of file. */
    private List<String> damage(Path dir, Random random) throws IOException {
        hits.clear();
        List<String> out = new ArrayList<>();
        List<Path> segments = new ArrayList<>();
        List<Path> files = new ArrayList<>();
        try (Stream<Path> s = Files.list(dir.resolve("spool"))) {
            for (Path p : s.sorted().toList()) {
                (p.getFileName().toString().startsWith("seg-") ? segments : files).add(p);
            }
        }
        int kinds = 1 + random.nextInt(7);
        for (int k = 0; k < 3; k++) {
            if ((kinds & (1 << k)) == 0) {
                continue;
            }
            List<Path> targets = k == 0 ? segments : k == 1 ? files : List.of(dir.resolve("queue.db"));
            if (targets.isEmpty()) {
                continue;
            }
            for (int n = 1 + random.nextInt(2); n > 0; n--) {
                Path p = targets.get(random.nextInt(targets.size()));
                out.add(damageOne(p, random));
            }
        }
        return out;
    }

    private String damageOne(Path p, Random random) throws IOException {
        long size = Files.size(p);
        long used = size;
        if (p.getFileName().toString().startsWith("seg-")) {
            used = usedLength(p);
        }
        long at = (long) (random.nextDouble() * Math.max(1, used));
        int len = random.nextInt(4) == 0 ? 1 + random.nextInt(4096) : 1 + random.nextInt(16);
        int how = random.nextInt(10);
        String name = p.getFileName().toString();
        try (FileChannel ch = FileChannel.open(p, StandardOpenOption.READ, StandardOpenOption.WRITE)) {
            if (how == 0) {
                ch.truncate(at);
                hits.add(new Hit(name, at, Long.MAX_VALUE));
                return "cut " + name + "@" + at;
            }
            ByteBuffer b = ByteBuffer.allocate((int) Math.min(len, Math.max(0, size - at)));
            ch.read(b, at);
            for (int i = 0; i < b.limit(); i++) {
                b.put(i, how < 4 ? 0 : (byte) (b.get(i) ^ (1 + random.nextInt(255))));
            }
            ch.write(b.flip(), at);
            hits.add(new Hit(name, at, at + b.limit()));
            return (how < 4 ? "zero " : "flip ") + name + "@" + at + "+" + b.limit();
        }
    }

    private static long usedLength(Path seg) throws IOException {
        byte[] all = Files.readAllBytes(seg);
        int end = all.length;
        while (end > 0 && all[end - 1] == 0) {
            end--;
        }
        return end;
    }

    private boolean hit(String file, long[] range) {
        for (Hit h : hits) {
            if (h.file.equals(file) && h.from < range[1] && h.to > range[0]
                    && !(h.to == Long.MAX_VALUE && h.from >= range[1])) {
                return true;
            }
        }
        return false;
    }

    private boolean ownBytesDamaged(String id) {
        Own o = own.get(id);
        for (long[] r : o.accept) {
            if (hit(o.segmentOf.get(r), r)) {
                return true;
            }
        }
        return o.file != null && hit(o.file, new long[] {0, Long.MAX_VALUE});
    }

    private boolean journalDamaged(String id) {
        Own o = own.get(id);
        return o.journal.stream().anyMatch(r -> hit(o.segmentOf.get(r), r)) || o.accept.stream()
                .anyMatch(r -> hit(o.segmentOf.get(r), r));
    }

    private void trial(Path dir, List<String> damage) throws Exception {
        boolean indexHit = hits.stream().anyMatch(h -> h.file.equals("queue.db"));
        MutableClock clock = new MutableClock();
        clock.advance(Duration.ofDays(2));
        Set<Path> segmentsBefore = segments(dir);
        Map<String, Integer> sent = new HashMap<>();
        Set<String> quarantined = new HashSet<>();
        List<String> ranges = new ArrayList<>();
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            // Every trial opens after a kill: what the cross-check mends, it mends in the background.
            CrossChecks.await(q);
            q.quarantinedAtOpen().forEach(x -> (x.id().startsWith("seg-") ? ranges : quarantined).add(x.id()));
            assertTrue(segments(dir).containsAll(segmentsBefore), "a segment was deleted");
            for (Message m : messages.values()) {
                Own o = own.get(m.tag);
                if (o.file != null && !m.deliveredBefore && !ownBytesDamaged(m.tag)) {
                    assertTrue(Files.exists(dir.resolve("spool").resolve(m.tag))
                            || Files.exists(dir.resolve(Spool.QUARANTINE_DIR).resolve(m.tag)), m.tag + ": file deleted");
                }
            }
            drain(q, clock, sent, quarantined);
        } catch (IndexDamage.Damaged d) {
            // The open read nothing damaged; a read while running did. As the daemon would, stop
            // and open again: the marker makes that open rebuild the index from the spool.
            assertTrue(indexHit, "index damage reported, but the index was not hit: " + d);
            assertTrue(IndexDamage.marked(dir), "no rebuild marker after " + d);
            count("index damaged, found while running, rebuilt at the next open");
            try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
                CrossChecks.await(q);
                q.quarantinedAtOpen().forEach(x -> (x.id().startsWith("seg-") ? ranges : quarantined).add(x.id()));
                drain(q, clock, sent, quarantined);
            }
        }
        assertTrue(!IndexDamage.marked(dir) || indexHit, "rebuild marker left without index damage");
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            CrossChecks.await(q);
            Map<String, Integer> again = new HashMap<>();
            drain(q, clock, again, quarantined);
            assertEquals(Map.of(), again, "queued again after a clean reopen");
        }
        for (Message m : messages.values()) {
            int n = sent.getOrDefault(m.tag, 0);
            boolean damaged = ownBytesDamaged(m.tag);
            boolean inRange = ranges.stream().anyMatch(r -> covers(r, m.tag));
            if (m.deliveredBefore) {
                if (n > 0) {
                    assertTrue(journalDamaged(m.tag), m.tag + ": delivered before, sent again, its records intact");
                    count("delivered before, sent again (own records damaged)");
                }
                continue;
            }
            assertTrue(n <= 1, m.tag + " sent " + n + " times");
            if (!damaged && !indexHit) {
                assertEquals(1, n, m.tag + ": intact, not delivered (quarantined=" + quarantined.contains(m.tag) + ")");
                count("intact, delivered once");
            } else if (!damaged) {
                // Damage to queue.db that still decodes (a due key changed, a subtree lost) can hide
                // an intact entry from the index without a trace; the open after an unclean stop
                // (every trial's) cross-checks the spool and queues it again.
                assertTrue(n == 1 || quarantined.contains(m.tag) || inRange,
                        m.tag + ": intact, lost with the damaged index");
                count(n == 1 ? "intact, index damaged, delivered once" : "intact, index damaged, quarantined");
            } else if (n == 1) {
                count("damaged elsewhere than its bytes, delivered once (bytes checked)");
            } else {
                assertTrue(quarantined.contains(m.tag) || inRange, m.tag + ": damaged, not quarantined (index damaged: "
                        + indexHit + ", its segment's tail cut or zeroed: " + tornLike(m.tag) + ")");
                count(tornLike(m.tag) ? "damaged, quarantined (tail cut or zeroed)" : "damaged, quarantined");
            }
        }
    }

    /** Whether a quarantined range key seg-N@start covers one of the message's ACCEPT records. */
    private boolean covers(String key, String tag) {
        Own o = own.get(tag);
        String seg = key.substring(0, key.indexOf('@'));
        long start = Long.parseLong(key.substring(key.indexOf('@') + 1));
        for (long[] r : o.accept) {
            if (o.segmentOf.get(r).equals(seg) && start <= r[0]) {
                return true;
            }
        }
        return false;
    }

    /**
     * Damage that left nothing intact after the message's record in its segment (a cut, or every
     * later record hit too): the scan cannot tell it from a write torn by a crash.
     */
    private boolean tornLike(String tag) {
        Own o = own.get(tag);
        for (long[] r : o.accept) {
            String seg = o.segmentOf.get(r);
            if (hits.stream().anyMatch(h -> h.file.equals(seg) && h.to == Long.MAX_VALUE && h.from < r[1])) {
                return true;
            }
            if (allRecords.get(seg).stream().filter(x -> x[0] >= r[1]).allMatch(x -> hit(seg, x))) {
                return true;
            }
        }
        return false;
    }

    private void drain(MapDbQueue q, MutableClock clock, Map<String, Integer> sent, Set<String> quarantined)
            throws Exception {
        for (int round = 0; round < 5; round++) {
            List<QueueEntry> leased = q.leaseDue(clock.instant().plus(Duration.ofDays(3)), 10_000);
            if (leased.isEmpty()) {
                break;
            }
            for (QueueEntry e : leased) {
                byte[] got;
                try (InputStream in = q.openMessage(e.id())) {
                    got = in.readAllBytes();
                } catch (IOException ex) {
                    q.recordOutcome(e.id(), Map.of("to@example.net", new DeliveryOutcome.Deferred("451 local")),
                            clock.instant());
                    quarantined.add(e.id().value());
                    continue;
                }
                Message m = messages.get(e.id().value());
                if (m == null || !java.util.Arrays.equals(m.body, got)) {
                    fail(e.id() + ": handed out bytes other than those accepted");
                }
                sent.merge(e.id().value(), 1, Integer::sum);
                q.recordOutcome(e.id(), Map.of("to@example.net", new DeliveryOutcome.Delivered("250 ok")), clock.instant());
            }
        }
        q.list().stream().filter(e -> e.state() == relaybox.queue.EntryState.QUARANTINED)
                .forEach(e -> quarantined.add(e.id().value()));
    }

    private void count(String what) {
        figures.merge(what, 1, Integer::sum);
    }

    private static Set<Path> segments(Path dir) throws IOException {
        try (Stream<Path> s = Files.list(dir.resolve("spool"))) {
            return new HashSet<>(s.filter(p -> p.getFileName().toString().startsWith("seg-")).toList());
        }
    }

    private static void copy(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Files.copy(p, to.resolve(from.relativize(p).toString()));
            }
        }
    }

    private static void delete(Path dir) throws IOException {
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}
