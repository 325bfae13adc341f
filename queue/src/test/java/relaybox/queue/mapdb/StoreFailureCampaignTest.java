package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.MutableClock;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.RetrySchedule;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.zip.CRC32C;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The crash loop's promise, in process and with failures the crash loop cannot make: several
 * threads accept, two dispatchers lease and record outcomes (delivered or deferred), a retry of
 * everything deferred now and then (as the link monitor's), small segments compacted as they
 * go, and each lifetime of the queue ends in a kill ({@link MapDbQueue#crashForTest}) or a clean
 * close, often after an injected failure first: an
 * index commit that throws at a named moment ({@link TestHooks#indexCommit}: before an entry's
 * write, after the writes, after the watermarks, before or after MapDB's commit) or an accepts'
 * fsync that throws ({@link TestHooks#spoolSync}) or one segment's force inside the spool's sync
 * ({@link UnsyncedWrites#beforeForce}), after which the queue refuses writes as it does in
 * production until it is reopened; one reopen after a kill in ten rebuilds the index from the
 * spool, as after a read that met damage. Asserted after the last open (and its cross-check): every
 * acknowledged message that was not given a delivered outcome is in the queue, not quarantined,
 * with its own bytes; nothing was quarantined at any open; no message was handed out with bytes
 * that are not its own.
 *
 * <p>Seeded: {@code -Dloss.seed=N} repeats a campaign's choices (thread timing still varies),
 * {@code -Dloss.rounds=N} sets the number of lifetimes (default 40).
 */
class StoreFailureCampaignTest {

    static final int ROUNDS = Integer.getInteger("loss.rounds", 40);
    /** Small segments, so segments roll over, close, empty and get compacted within one lifetime. */
    static final long SEGMENT = 96 << 10;
    static final String RCPT = "a@x.example";
    static final List<String> COMMIT_POINTS = List.of("applying", "applied", "watermarked", "synced", "committed");
    static final List<String> SYNC_POINTS = List.of("sync", "synced");

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path root;

    @Test
    void everyAcknowledgedMessageSurvivesKillsAndFailedCommits() throws Exception {
        long seed = Long.getLong("loss.seed", System.nanoTime());
        campaign(seed, ROUNDS);
    }

    /**
     * A kill is the end of every write: an outcome recorded by a thread that outlived the queue
     * (a test's kill stops the queue's threads, not the caller's) must not reach the spool. It
     * did: the dead mark reopened the segment and was written, the REMOVE failed, and an entry
     * acknowledged but not yet indexed was then skipped by the replay as delivered, although
     * the outcome had failed. Before the fix the message was gone after the reopen.
     */
    @Test
    void anOutcomeRecordedAfterAKillWritesNothing() throws Exception {
        Path dir = root.resolve("late");
        MutableClock clock = new MutableClock();
        MapDbQueue q = open(dir, clock);
        q.hooks.indexGate = new java.util.concurrent.CountDownLatch(1);
        QueueEntry e = relaybox.queue.QueueContract.put(q, "Subject: x\r\n\r\nlate\r\n", RCPT);
        assertEquals(List.of(e.id()), q.leaseDue(clock.instant(), 1).stream().map(QueueEntry::id).toList());
        q.crashForTest();
        try {
            q.recordOutcome(e.id(), Map.of(RCPT, new DeliveryOutcome.Delivered("250 ok")), clock.instant());
        } catch (RuntimeException dead) {
            // What a dead queue does with the call does not matter; that it writes nothing does.
        }
        try (MapDbQueue back = open(dir, clock)) {
            back.crossCheck().get(1, TimeUnit.MINUTES);
            assertEquals(EntryState.QUEUED, back.get(e.id()).orElseThrow().state(),
                    "the acknowledged message is queued again after the kill");
        }
    }

    /** What the campaign knows across lifetimes. */
    static final class Ledger {
        /** Queue id to the CRC-32C and length of its message bytes, set before the accept. */
        final Map<String, long[]> expected = new ConcurrentHashMap<>();
        final Set<String> acknowledged = ConcurrentHashMap.newKeySet();
        final Set<String> delivered = ConcurrentHashMap.newKeySet();
        final Set<String> refused = ConcurrentHashMap.newKeySet();
        final List<String> problems = java.util.Collections.synchronizedList(new ArrayList<>());
        final AtomicInteger outcomes = new AtomicInteger();
        /** Records a compaction copied (each then switched over or marked dead). */
        final AtomicInteger copied = new AtomicInteger();
        final Map<String, Integer> actions = new TreeMap<>();
        /** Per queue id, the round it was acknowledged in and (if any) delivered in. */
        final Map<String, String> history = new ConcurrentHashMap<>();
        /** What each round did. */
        final List<String> rounds = new ArrayList<>();
    }

    static MapDbQueue open(Path dir, MutableClock clock) throws QueueException {
        return MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock,
                new SegmentCompactor.Settings(60, Duration.ZERO, Duration.ofMillis(20)), SEGMENT);
    }

    static void campaign(long seed, int rounds) throws Exception {
        // The queue's INFO lines (opens, cross-checks, recoveries) say what each round did.
        ch.qos.logback.classic.Logger log =
                (ch.qos.logback.classic.Logger) org.slf4j.LoggerFactory.getLogger("relaybox.queue");
        ch.qos.logback.classic.Level before = log.getLevel();
        log.setLevel(ch.qos.logback.classic.Level.INFO);
        try {
            run(seed, rounds);
        } finally {
            log.setLevel(before);
        }
    }

    private static void run(long seed, int rounds) throws Exception {
        Path dir = java.nio.file.Files.createTempDirectory("loss-campaign-");
        System.out.printf("StoreFailureCampaignTest seed=%d rounds=%d dir=%s%n", seed, rounds, dir);
        Random random = new Random(seed);
        MutableClock clock = new MutableClock();
        Ledger ledger = new Ledger();
        for (int round = 0; round < rounds; round++) {
            System.out.printf("StoreFailureCampaignTest round %d: open%n", round);
            MapDbQueue q = open(dir, clock);
            if (!q.quarantinedAtOpen().isEmpty()) {
                ledger.problems.add("round " + round + ": quarantined at open " + q.quarantinedAtOpen());
            }
            // Not a failure by itself (the cross-check may queue it again later): where to look.
            for (String id : ledger.acknowledged) {
                if (!ledger.delivered.contains(id) && q.get(new relaybox.queue.QueueId(id)).isEmpty()) {
                    ledger.history.merge(id, "not in the queue at the open of round " + round, (a, b) -> a + "; " + b);
                }
            }
            q.hooks.compaction = p -> {
                if (p.equals("copied")) {
                    ledger.copied.incrementAndGet();
                }
            };
            Lifetime life = new Lifetime(q, clock, ledger, random.nextLong(), round);
            life.start();
            Thread.sleep(30 + random.nextInt(400));
            int kind = random.nextInt(100);
            String action;
            if (kind < 40) {
                action = "index commit throws at " + inject(q, true, COMMIT_POINTS.get(random.nextInt(COMMIT_POINTS.size())),
                        random.nextInt(3));
            } else if (kind < 50) {
                action = "accepts' fsync throws at " + inject(q, false, SYNC_POINTS.get(random.nextInt(SYNC_POINTS.size())),
                        random.nextInt(2));
            } else if (kind < 60) {
                // As a segment's channel closed under the force did (SpoolSyncTest): the spool's
                // sync fails part way, in whichever thread syncs next (the accepts' or the committer's).
                int skip = random.nextInt(3);
                AtomicInteger left = new AtomicInteger(skip);
                q.spool.unsynced.beforeForce = n -> {
                    if (left.getAndDecrement() == 0) {
                        throw new java.nio.channels.ClosedChannelException();
                    }
                };
                action = "a segment's force throws at #" + skip;
            } else {
                action = "nothing injected";
            }
            if (!action.equals("nothing injected")) {
                long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(3);
                while (q.healthy() && System.nanoTime() < until) {
                    Thread.sleep(2);
                }
                if (q.healthy()) {
                    action += " (not reached)";
                }
                // Running on unhealthy: accepts are refused, outcomes still journalled.
                Thread.sleep(20 + random.nextInt(300));
            }
            boolean clean = random.nextInt(10) == 0;
            action += clean ? ", then close" : ", then kill";
            ledger.actions.merge(action.replaceAll(" at (\\S+ )?#\\d", ""), 1, Integer::sum);
            ledger.rounds.add("round " + round + ": " + action);
            System.out.printf("StoreFailureCampaignTest round %d: %s%n", round, action);
            if (clean) {
                life.stopping = true;
                q.close();
            } else {
                q.crashForTest();
            }
            life.stop();
            if (!clean && random.nextInt(10) == 0) {
                // As after a read that met damage: the next open rebuilds the index from the spool.
                java.nio.file.Files.writeString(dir.resolve(IndexDamage.MARKER), "campaign\n");
                ledger.actions.merge("index rebuilt at the next open", 1, Integer::sum);
                ledger.rounds.add("round " + round + ": index marked for a rebuild");
            }
        }
        // The last open: the cross-check (the stop was not clean) runs to its end, then nothing waits.
        Map<String, QueueEntry> present = new TreeMap<>();
        List<String> wrongBytes = new ArrayList<>();
        try (MapDbQueue q = open(dir, clock)) {
            if (!q.quarantinedAtOpen().isEmpty()) {
                ledger.problems.add("last open: quarantined at open " + q.quarantinedAtOpen());
            }
            q.crossCheck().get(5, TimeUnit.MINUTES);
            for (QueueEntry e : q.list()) {
                present.put(e.id().value(), e);
                long[] want = ledger.expected.get(e.id().value());
                if (want != null && e.state() != EntryState.QUARANTINED) {
                    long[] got = crc(q, e);
                    if (got[0] != want[0] || got[1] != want[1]) {
                        wrongBytes.add(e.id().value());
                    }
                }
            }
        }
        Set<String> lost = new TreeSet<>();
        Set<String> quarantined = new TreeSet<>();
        for (String id : ledger.acknowledged) {
            QueueEntry e = present.get(id);
            if (e == null && !ledger.delivered.contains(id)) {
                lost.add(id);
            } else if (e != null && e.state() == EntryState.QUARANTINED) {
                quarantined.add(id);
            }
        }
        System.out.printf("StoreFailureCampaignTest seed=%d rounds=%d actions=%s acknowledged=%d refused=%d "
                        + "delivered=%d outcomes=%d compaction-copies=%d left=%d lost=%d quarantined=%d wrong-bytes=%d problems=%d%n",
                seed, rounds, ledger.actions, ledger.acknowledged.size(), ledger.refused.size(), ledger.delivered.size(),
                ledger.outcomes.get(), ledger.copied.get(), present.size(), lost.size(), quarantined.size(), wrongBytes.size(),
                ledger.problems.size());
        if (!lost.isEmpty() || !quarantined.isEmpty() || !wrongBytes.isEmpty() || !ledger.problems.isEmpty()) {
            StringBuilder why = new StringBuilder();
            for (String id : lost) {
                why.append("\n  lost ").append(id).append(": ").append(ledger.history.get(id));
            }
            why.append("\n  rounds: ").append(ledger.rounds);
            fail("seed " + seed + " (store kept in " + dir + "): " + lost.size() + " acknowledged messages lost "
                    + lost + ", quarantined " + quarantined + ", wrong bytes " + wrongBytes + ", problems "
                    + ledger.problems.stream().limit(20).toList() + why);
        }
        deleteQuietly(dir);
    }

    /** Makes the {@code skip}-th next call at {@code point} throw; returns a description. */
    private static String inject(MapDbQueue q, boolean commit, String point, int skip) {
        AtomicInteger left = new AtomicInteger(skip);
        AtomicReference<Boolean> fired = new AtomicReference<>(false);
        Consumer<String> hook = p -> {
            if (p.equals(point) && !fired.get() && left.getAndDecrement() == 0) {
                fired.set(true);
                throw new IllegalStateException("injected failure at " + point);
            }
        };
        if (commit) {
            q.hooks.indexCommit = hook;
        } else {
            q.hooks.spoolSync = hook;
        }
        return point + " #" + skip;
    }

    private static long[] crc(Queue q, QueueEntry e) {
        CRC32C c = new CRC32C();
        long n = 0;
        try (InputStream in = q.openMessage(e.id())) {
            byte[] buf = new byte[8192];
            for (int r; (r = in.read(buf)) > 0; ) {
                c.update(buf, 0, r);
                n += r;
            }
        } catch (java.io.IOException ex) {
            return new long[] {-1, -1};
        }
        return new long[] {c.getValue(), n};
    }

    private static void deleteQuietly(Path dir) {
        try (var walk = java.nio.file.Files.walk(dir)) {
            walk.sorted(java.util.Comparator.reverseOrder()).forEach(p -> p.toFile().delete());
        } catch (java.io.IOException ignored) {
            // A temp directory; the OS cleans it eventually.
        }
    }

    /** One lifetime of the queue: its accepting, dispatching and clock threads. */
    static final class Lifetime {
        static final String HEADERS = "Received: test\r\n";
        final MapDbQueue q;
        final MutableClock clock;
        final Ledger ledger;
        final long seed;
        final int round;
        final List<Thread> threads = new ArrayList<>();
        volatile boolean stopping;

        Lifetime(MapDbQueue q, MutableClock clock, Ledger ledger, long seed, int round) {
            this.q = q;
            this.clock = clock;
            this.ledger = ledger;
            this.seed = seed;
            this.round = round;
        }

        void start() {
            for (int i = 0; i < 3; i++) {
                Random r = new Random(seed + i);
                threads.add(new Thread(() -> acceptLoop(r), "campaign-accept-" + i));
            }
            for (int i = 0; i < 2; i++) {
                Random r = new Random(seed + 10 + i);
                threads.add(new Thread(() -> dispatchLoop(r), "campaign-dispatch-" + i));
            }
            threads.add(new Thread(this::tick, "campaign-clock"));
            Random rr = new Random(seed + 20);
            threads.add(new Thread(() -> retryAllNowAndThen(rr), "campaign-retry-all"));
            threads.forEach(Thread::start);
        }

        void stop() throws InterruptedException {
            stopping = true;
            for (Thread t : threads) {
                t.join(30_000);
                if (t.isAlive()) {
                    ledger.problems.add("round " + round + ": " + t.getName() + " did not stop");
                }
            }
        }

        private void tick() {
            while (!stopping) {
                clock.advance(Duration.ofMinutes(2));
                sleep(25);
            }
        }

        /** As the link monitor does when an upstream comes back: every deferred entry due now. */
        private void retryAllNowAndThen(Random r) {
            while (!stopping) {
                sleep(50 + r.nextInt(400));
                try {
                    q.retryAll(clock.instant());
                } catch (RuntimeException e) {
                    // Killed or closed under it.
                }
            }
        }

        private void acceptLoop(Random r) {
            while (!stopping) {
                Queue.Incoming in;
                try {
                    in = q.receive();
                } catch (QueueException e) {
                    sleep(2);
                    continue;
                }
                // Mostly small messages into segments; one in twelve in its own file.
                int size = r.nextInt(12) == 0 ? Spool.SMALL + 1 + r.nextInt(64 << 10) : 200 + r.nextInt(6000);
                byte[] body = new byte[size];
                r.nextBytes(body);
                String id = in.id().value();
                byte[] head = HEADERS.getBytes(java.nio.charset.StandardCharsets.UTF_8);
                CRC32C c = new CRC32C();
                c.update(head);
                c.update(body);
                ledger.expected.put(id, new long[] {c.getValue(), head.length + body.length});
                try (OutputStream out = in.body()) {
                    out.write(body);
                } catch (java.io.IOException e) {
                    in.discard();
                    continue;
                }
                try {
                    q.accept(in, Envelope.of("app@example.org", List.of(RCPT)), HEADERS);
                    ledger.acknowledged.add(id);
                    ledger.history.merge(id, "acknowledged in round " + round + (size > Spool.SMALL ? " (own file)" : ""),
                            (a, b) -> a + "; " + b);
                } catch (QueueException | RuntimeException e) {
                    ledger.refused.add(id);
                }
            }
        }

        private void dispatchLoop(Random r) {
            while (!stopping) {
                List<QueueEntry> due;
                try {
                    due = q.leaseDue(clock.instant(), 1 + r.nextInt(6));
                } catch (RuntimeException e) {
                    sleep(5);
                    continue;
                }
                if (due.isEmpty()) {
                    sleep(3);
                    continue;
                }
                for (QueueEntry e : due) {
                    String id = e.id().value();
                    long[] want = ledger.expected.get(id);
                    long[] got = crc(q, e);
                    if (got[0] == -1) {
                        // Killed or closed under us: the lease dies with the process.
                        continue;
                    }
                    if (want != null && (got[0] != want[0] || got[1] != want[1])) {
                        ledger.problems.add("round " + round + ": " + id + " handed out with wrong bytes");
                    }
                    DeliveryOutcome o = r.nextInt(4) == 0 ? new DeliveryOutcome.Deferred("451 later")
                            : new DeliveryOutcome.Delivered("250 ok");
                    try {
                        var next = q.recordOutcome(e.id(), Map.of(RCPT, o), clock.instant());
                        ledger.outcomes.incrementAndGet();
                        if (next.isPresent() && next.get().state() == EntryState.DELIVERED) {
                            ledger.delivered.add(id);
                            ledger.history.merge(id, "delivered in round " + round, (a, b) -> a + "; " + b);
                        }
                    } catch (RuntimeException ex) {
                        // As a dispatcher's outcome after the store failed: nothing was recorded.
                    }
                }
            }
        }

        private static void sleep(long ms) {
            try {
                Thread.sleep(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}
