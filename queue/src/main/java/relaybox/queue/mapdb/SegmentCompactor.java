package relaybox.queue.mapdb;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;

/**
 * Owns space reclamation in the spool: copies the live ACCEPT records out of mostly-dead segments
 * so that those segments can go. A segment is deleted only when no entry refers to it, so one
 * failed or long-deferred message would otherwise pin its whole segment, and one such message per
 * segment's worth of traffic would fill the disk. It does not decide what is live (the index does)
 * and deletes nothing itself: it moves references, and the spool deletes what nothing refers to.
 *
 * <p>A segment is compacted when it is not appended to any more, every record in it has reached
 * the index, it has been closed for at least {@link Settings#minAge} (mail still being delivered
 * empties it for free), and its live bytes (per segment in the index, see
 * {@link IndexStore#liveBytes}) are below {@link Settings#livePercent} of its length. Fewest live
 * bytes first, and only while the copies leave the disk above the queue's free space reserve.
 * Each live record is moved in steps that are each crash-safe on their own:
 * <ol>
 *   <li>under the queue's lock, a new ACCEPT record with the entry as it is now (and a small
 *       message's bytes, checked against their CRC first; a large message's record only, its file
 *       stays) is appended to the current segment; every later journal record of the entry follows
 *       it. Then the accepts' group fsync. A crash here leaves an unused live copy, which the next
 *       open marks dead, since the index still names the old record;</li>
 *   <li>under the queue's lock, if the entry is still there and at the old record, the switch is
 *       queued (reads see the copy at once); the committer points the entry at the copy and
 *       remembers the old record in the index ({@link IndexStore#moved}), in one commit;</li>
 *   <li>after that commit, the committer marks the old record dead and releases its reference; the
 *       old segment goes when its last live record has moved. An open after a crash before the
 *       marks makes them from {@link IndexStore#moved}. A copy that was not used (the entry was
 *       removed meanwhile) is marked dead instead. So a rebuild of the index from the spool finds
 *       one live record per entry, and never a delivered one.</li>
 * </ol>
 * A message being read when its segment is deleted is read through the deleted file's channel,
 * kept open until that read is done; one looked up just too late is read from the copy.
 *
 * <p>Runs on its own thread at the lowest priority, one segment at a time, in batches of
 * {@link #BATCH_BYTES}, so the fsync an accept shares with a batch stays short.
 */
final class SegmentCompactor {

    private static final Logger LOG = LoggerFactory.getLogger(SegmentCompactor.class);

    /** Copies are fsynced (with whatever accepts wait then) every this many bytes. */
    static final int BATCH_BYTES = 1 << 20;

    /**
     * When to compact.
     *
     * @param livePercent a segment is compacted when its live bytes are below this percentage of
     *                    its length (queue_compact_live_percent, default 25; 0: never): at 25% the
     *                    closed segments hold at most about four times the live bytes, and each
     *                    byte copied frees at least three
     * @param minAge      a segment closed for less than this is left alone (queue_compact_min_age,
     *                    default 15 minutes): its mail is mostly still on its first attempts
     * @param interval    how often the compactor looks for segments to compact
     */
    record Settings(int livePercent, Duration minAge, Duration interval) {
        static final Settings DEFAULT = new Settings(25, Duration.ofMinutes(15), Duration.ofSeconds(30));

        Settings {
            if (livePercent < 0 || livePercent > 100) {
                throw new IllegalArgumentException("livePercent must be 0..100: " + livePercent);
            }
            if (minAge.isNegative() || interval.isNegative() || interval.isZero()) {
                throw new IllegalArgumentException("minAge must be >= 0 and interval > 0");
            }
        }
    }

    /** What the compactor needs from the queue; implemented by {@link MapDbQueue}. */
    interface Host {
        /** Where the entry's message bytes are now; null when there is no such entry. */
        SpoolLocation location(QueueId id);

        /**
         * Under the queue's lock: appends a copy of the entry's ACCEPT record (the entry as it is
         * now; {@code body} null for a message in its own file) if it is still at {@code from};
         * null otherwise.
         */
        SpoolAppended copy(QueueId id, SpoolLocation from, byte[] body) throws IOException;

        /** Completes after a spool fsync that began after this call (the accepts' group sync). */
        CompletableFuture<Void> syncSpool();

        /**
         * Queues the switch of the entry from {@code from} (its record at {@code fromStart}) to the
         * copy; completes with true once committed, false when the copy was not used. Either way
         * the record that is no longer needed is marked dead and its reference released.
         */
        CompletableFuture<Boolean> relocate(QueueId id, SpoolLocation from, long fromStart, SpoolAppended to);

        /** Whether {@code bytes} more can be written while staying above the free space reserve. */
        boolean roomFor(long bytes);

        /** The live bytes the index counts in segment {@code n}. */
        long liveBytes(long n);

        /** Tests only: a named moment of a compaction, where a test may kill the queue. */
        void reached(String point);
    }

    /** One record copied and not yet switched over. */
    private record Copy(QueueId id, SpoolLocation from, long fromStart, SpoolAppended to) { }

    /** One pass's figures, for logs and tests. */
    record Pass(int segments, int copied, long bytesCopied, int skipped) {
        Pass plus(Pass o) {
            return new Pass(segments + o.segments, copied + o.copied, bytesCopied + o.bytesCopied, skipped + o.skipped);
        }
    }

    private final Spool spool;
    private final Host host;
    private final Settings settings;
    private final Object wake = new Object();
    private final Object passLock = new Object();
    private volatile boolean stopping;
    private Thread thread;

    SegmentCompactor(Spool spool, Host host, Settings settings) {
        this.spool = spool;
        this.host = host;
        this.settings = settings;
    }

    void start() {
        if (settings.livePercent() == 0) {
            return;
        }
        Thread t = new Thread(this::loop, "queue-compactor");
        t.setDaemon(true);
        // Below the forwarders, with the intake: on a busy machine, reclamation waits
        // (with -XX:ThreadPriorityPolicy=1, as packaged; else the OS ignores Java priorities).
        t.setPriority(Thread.MIN_PRIORITY);
        thread = t;
        t.start();
    }

    /**
     * Stops the thread after the batch in hand. Never interrupts it: an interrupt inside a
     * FileChannel call closes the channel, and the spool's channels are shared.
     */
    void stop() {
        requestStop();
        join();
    }

    void requestStop() {
        stopping = true;
        synchronized (wake) {
            wake.notifyAll();
        }
    }

    void join() {
        if (thread != null) {
            try {
                thread.join(30_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }

    private void loop() {
        long intervalMs = Math.max(1, settings.interval().toMillis());
        while (!stopping) {
            synchronized (wake) {
                try {
                    wake.wait(intervalMs);
                } catch (InterruptedException e) {
                    return;
                }
            }
            if (stopping) {
                return;
            }
            try {
                Pass p = compactNow();
                if (p.segments() > 0) {
                    LOG.info("spool compacted: {} segments, {} records ({} bytes) moved, {} left for later",
                            p.segments(), p.copied(), p.bytesCopied(), p.skipped());
                }
            } catch (IOException | RuntimeException e) {
                // Nothing is lost: whatever was not switched over is still at its old record.
                LOG.warn("spool compaction stopped for now: {}", e.toString());
            }
        }
    }

    /** Segments due for compaction, fewest live bytes first. */
    List<Long> due(long nowNanos) {
        List<long[]> out = new ArrayList<>();
        for (Map.Entry<Long, Long> c : spool.closedSegments().entrySet()) {
            long n = c.getKey();
            if (nowNanos - c.getValue() < settings.minAge().toNanos()) {
                continue;
            }
            long live = host.liveBytes(n);
            long length = spool.segmentLength(n);
            if (length > 0 && live * 100 < (long) settings.livePercent() * length) {
                out.add(new long[] {n, live});
            }
        }
        out.sort((a, b) -> Long.compare(a[1], b[1]));
        return out.stream().map(a -> a[0]).toList();
    }

    /** One pass over every segment due for compaction, on the caller's thread. */
    Pass compactNow() throws IOException {
        synchronized (passLock) {
            Pass total = new Pass(0, 0, 0, 0);
            for (long n : due(System.nanoTime())) {
                if (stopping) {
                    break;
                }
                long live = host.liveBytes(n);
                // The copies are all written before the segment goes: the room is needed first.
                if (!host.roomFor(live + live / 4)) {
                    LOG.debug("spool segment {} not compacted: {} live bytes would go below the free space reserve",
                            n, live);
                    continue;
                }
                total = total.plus(compact(n));
            }
            return total;
        }
    }

    /** Moves the live records of segment {@code n}; a damaged one is left, and the segment with it. */
    private Pass compact(long n) throws IOException {
        List<Copy> batch = new ArrayList<>();
        long batchBytes = 0;
        int copied = 0;
        long bytes = 0;
        int skipped = 0;
        for (AcceptRecords.Scanned r : acceptRecords(n)) {
            if (stopping) {
                break;
            }
            QueueId id;
            try {
                id = EntryCodec.decodeStored(r.entry()).entry().id();
            } catch (EntryCodec.DecodeException e) {
                continue;
            }
            SpoolLocation from = host.location(id);
            if (from == null || from.keeps() != n
                    || !from.inFile() && from.offset() != r.start() + SpoolRecord.HEADER + 4 + r.entry().length) {
                // Removed, or a record the entry has moved away from.
                continue;
            }
            byte[] body = null;
            if (!from.inFile()) {
                try (InputStream in = spool.open(id, from)) {
                    body = in.readAllBytes();
                } catch (MessageReader.Damaged d) {
                    // Never copied: a copy would carry a fresh checksum over damaged bytes. The send
                    // quarantines the entry; the segment stays until then.
                    skipped++;
                    continue;
                }
            }
            SpoolAppended to = host.copy(id, from, body);
            if (to == null) {
                skipped++;
                continue;
            }
            host.reached("copied");
            batch.add(new Copy(id, from, r.start(), to));
            batchBytes += body == null ? IndexStore.ENTRY_BYTES : body.length;
            if (batchBytes >= BATCH_BYTES) {
                copied += switchOver(batch);
                bytes += batchBytes;
                batch.clear();
                batchBytes = 0;
            }
        }
        copied += switchOver(batch);
        bytes += batchBytes;
        return new Pass(1, copied, bytes, skipped);
    }

    /**
     * The ACCEPT records of segment {@code n}, dead-marked ones included: the index decides what
     * is live.
     */
    private List<AcceptRecords.Scanned> acceptRecords(long n) throws IOException {
        List<AcceptRecords.Scanned> out = new ArrayList<>();
        spool.scan(n, 0, new SegmentScanner.Visitor() {
            @Override
            public void record(SpoolRecord.Kind kind, long start, long end, byte[] payload) {
                if (kind == SpoolRecord.Kind.ACCEPT || kind == SpoolRecord.Kind.DEAD) {
                    out.add(new AcceptRecords.Scanned(start, end, SpoolRecord.inner(payload)));
                }
            }

            @Override
            public void damaged(long start, long end) {
                // Not copied: whatever an entry names in there is read (and quarantined) at its send.
            }
        });
        return out;
    }

    /** Makes the copies durable, then switches their entries over; returns how many moved. */
    private int switchOver(List<Copy> batch) throws IOException {
        if (batch.isEmpty()) {
            return 0;
        }
        await(host.syncSpool());
        host.reached("synced");
        List<CompletableFuture<Boolean>> commits = new ArrayList<>();
        for (Copy c : batch) {
            commits.add(host.relocate(c.id(), c.from(), c.fromStart(), c.to()));
        }
        host.reached("relocating");
        int moved = 0;
        for (CompletableFuture<Boolean> f : commits) {
            moved += await(f) ? 1 : 0;
        }
        return moved;
    }

    private static <T> T await(CompletableFuture<T> f) throws IOException {
        try {
            return f.get(5, TimeUnit.MINUTES);
        } catch (ExecutionException e) {
            throw new IOException("queue write failed: " + e.getCause(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException("interrupted", e);
        } catch (TimeoutException e) {
            throw new IOException("queue write not done after 5 minutes", e);
        }
    }
}
