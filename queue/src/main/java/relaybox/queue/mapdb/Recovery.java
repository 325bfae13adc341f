package relaybox.queue.mapdb;

import org.mapdb.BTreeMap;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * Owns bringing the index up to date with the spool at open; it runs once, before the queue
 * takes any write. Every change goes through {@link IndexStore}, so the due and state indexes,
 * the counts and the segment references move exactly as a committed write would move them.
 * Four steps:
 * <ol>
 * <li>Records a compaction moved entries away from, and whose dead marks a crash may have kept
 *     from being written, are marked dead ({@link IndexStore#moved}).</li>
 * <li>Walk, only when the index cannot be trusted as it stands (an older store, spool files
 *     missing, a rebuilt index): every index record is read on its own and re-indexed; one that
 *     cannot be read or decoded is quarantined, one left in SENDING is QUEUED again, one whose
 *     bytes are missing is QUARANTINED. A clean open skips this and reads no entry.</li>
 * <li>Replay: each segment's records past its watermark (those the index may not have reached
 *     before the stop) are applied in (segment, offset) order: an ACCEPT adds its entry unless the
 *     index has it or it is dead, an UPDATE replaces the indexed entry's state, a REMOVE removes
 *     the entry (its ACCEPT may be in an older segment) and marks its ACCEPT dead. A second live
 *     ACCEPT of an entry the index has elsewhere is a compaction's copy that a crash kept from
 *     being used: it is marked dead, so a rebuild finds one live record per entry. A damaged range is kept in the
 *     quarantine map under {@code seg-<n>@<offset>} and reported.</li>
 * <li>Rescue, when the walk found index records damaged or the last stop was not clean (the
 *     cross-check: damage MapDB cannot see may have lost an entry without a trace): every segment
 *     is scanned from its start and each live ACCEPT whose entry the index lost is queued again,
 *     with the state its later journal records give it. Dead records and entries with a REMOVE
 *     are delivered or deleted mail and stay out.</li>
 * </ol>
 */
final class Recovery {

    private static final Logger LOG = LoggerFactory.getLogger(Recovery.class);
    /** At most this much of a damaged range is copied into the quarantine map; the segment itself is kept. */
    private static final int MAX_QUARANTINED_BYTES = 1 << 20;

    private final IndexStore index;
    private final BTreeMap<String, byte[]> records;
    private final BTreeMap<String, byte[]> quarantine;
    private final BTreeMap<Long, Long> watermarks;
    private final Spool spool;
    private final Instant now;
    final List<MapDbQueue.Quarantined> quarantined = new ArrayList<>();
    /** Ids of entries whose message is in its own file (and raw quarantined keys): kept at orphan cleanup. */
    final Set<String> ownFiles = new HashSet<>();
    /**
     * Large messages whose REMOVE this replay applied: their files go once the open has committed
     * the removal ({@link StoreOpener}), whatever orphan cleanup keeps. Their ACCEPT records get no
     * dead mark, so a file left behind made the entry look lost to a later cross-check once the
     * segment holding the REMOVE was gone: it was queued and delivered again (CrashLoopIT, seed
     * 54341929199349, a 997 KB message sent twice 22 s apart).
     */
    final List<QueueId> removedFiles = new ArrayList<>();
    /** Damage was seen (index or spool): orphan cleanup then deletes nothing. */
    boolean damageSeen;
    int replayed;

    Recovery(IndexStore index, BTreeMap<String, byte[]> quarantine, BTreeMap<Long, Long> watermarks,
             Spool spool, Instant now) {
        this.index = index;
        this.records = index.records;
        this.quarantine = quarantine;
        this.watermarks = watermarks;
        this.spool = spool;
        this.now = now;
    }

    /**
     * Runs the steps ({@code walk}: re-index every entry first; {@code crossCheck}: rescue from
     * every segment even when the walk found nothing damaged); the index changes are flushed, not
     * committed.
     */
    void run(boolean walk, boolean crossCheck) throws IOException {
        markMoved();
        boolean indexDamaged = false;
        if (walk) {
            index.clearIndexes();
            // One key at a time: the walk holds no list of every key, and a key removed as
            // damaged still leads to the next.
            String key = records.isEmpty() ? null : records.firstKey();
            for (; key != null; key = records.higherKey(key)) {
                indexDamaged |= !loadOne(key);
            }
        }
        for (long seg : spool.segmentNumbers()) {
            long from = watermarks.getOrDefault(seg, 0L);
            watermarks.put(seg, spool.scan(seg, from, new Replay(seg, null)));
        }
        if (indexDamaged || crossCheck) {
            damageSeen |= indexDamaged;
            Set<String> rescued = new HashSet<>();
            Set<String> damagedRecords = new HashSet<>();
            quarantined.forEach(q -> damagedRecords.add(q.id()));
            for (long seg : spool.segmentNumbers()) {
                spool.scan(seg, 0, new Replay(seg, rescued));
            }
            for (String key : rescued) {
                if (!records.containsKey(key)) {
                    continue;
                }
                if (damagedRecords.contains(key) || quarantine.containsKey(key)) {
                    quarantined.removeIf(q -> q.id().equals(key));
                    quarantine.remove(key);
                    LOG.warn("{}: its index record was damaged; restored from its spool record", key);
                } else {
                    // The index had no trace of it, yet its record is live and past no outcome:
                    // the index lost it without MapDB noticing (it keeps no checksum of its nodes).
                    damageSeen = true;
                    LOG.error("{}: acknowledged, but missing from the index although its watermark had"
                            + " passed its spool record; queued again from the spool", key);
                }
            }
        }
        index.flush();
        damageSeen |= !quarantined.isEmpty() || !quarantine.isEmpty();
        ownFiles.addAll(quarantine.keySet());
        ownFiles.addAll(index.files);
    }

    /** The quarantine map's key of a damaged spool range. */
    static String rangeKey(long segment, long start) {
        return String.format("seg-%016x@%d", segment, start);
    }

    /** A damaged range's bytes, up to {@link #MAX_QUARANTINED_BYTES}, for the quarantine map. */
    static byte[] rangeBytes(Spool spool, long segment, long start, long end) throws IOException {
        try (FileChannel ch = FileChannel.open(spool.segment(segment), StandardOpenOption.READ)) {
            // A cut segment ends before the range it was synced to: what is left is kept.
            byte[] raw = new byte[(int) Math.max(0, Math.min(Math.min(end, ch.size()) - start, MAX_QUARANTINED_BYTES))];
            SegmentScanner.readFully(ch, ByteBuffer.wrap(raw), start);
            return raw;
        }
    }

    /**
     * Marks dead the records compaction moved entries away from, as the commit that moved them
     * promised; the marks are synced before the commit that forgets them. A segment that is gone
     * took its records with it (and its number may come back: its keys go before any append).
     */
    private void markMoved() throws IOException {
        if (index.moved.isEmpty()) {
            return;
        }
        Set<Long> present = new HashSet<>(spool.segmentNumbers());
        for (String key : List.copyOf(index.moved)) {
            long[] r = IndexKeys.movedRecord(key);
            if (present.contains(r[0])) {
                spool.markDeadAt(r[0], r[1]);
            }
        }
        spool.sync();
        index.moved.clear();
    }

    /** Re-indexes one index record; false when the record itself is damaged. */
    private boolean loadOne(String key) throws IOException {
        byte[] raw;
        try {
            raw = records.get(key);
        } catch (RuntimeException | AssertionError ex) {
            // A damaged value (MapDB checks its pointers' parity) costs one entry, not the store.
            quarantined.add(new MapDbQueue.Quarantined(key, "store record unreadable: " + ex));
            try {
                records.remove(key);
            } catch (RuntimeException | AssertionError ignored) {
                // Left in place, it is reported again at the next open.
            }
            return false;
        }
        if (raw == null) {
            return true;
        }
        EntryCodec.Stored stored;
        try {
            stored = EntryCodec.decodeStored(raw);
        } catch (EntryCodec.DecodeException ex) {
            quarantine.put(key, raw);
            records.remove(key);
            quarantined.add(new MapDbQueue.Quarantined(key, "decode: " + ex.getMessage()));
            return false;
        }
        index.apply(stored.entry().id(), null, checked(stored.entry(), stored.location()), stored.location());
        return true;
    }

    /**
     * The entry as it may be queued: one left in SENDING is QUEUED again (we cannot know whether
     * the upstream took it: a duplicate is better than a lost message), one whose bytes are
     * missing or short is QUARANTINED and reported.
     */
    private QueueEntry checked(QueueEntry e, SpoolLocation loc) throws IOException {
        if (e.state() == EntryState.SENDING) {
            e = e.recovered(now);
        }
        if (e.state() != EntryState.QUARANTINED && !spool.intact(e.id(), loc)) {
            String why = loc.inFile() ? "spool file missing or short" : "spool segment missing or short";
            e = e.quarantined(why);
            quarantined.add(new MapDbQueue.Quarantined(e.id().value(), why));
        }
        return e;
    }

    /**
     * Applies one segment's records to the index. With {@code rescued} null it replays records
     * past the watermark; otherwise it rescues entries the index lost, and applies journal
     * records only to those.
     */
    private final class Replay implements SegmentScanner.Visitor {
        private final long segment;
        private final Set<String> rescued;

        Replay(long segment, Set<String> rescued) {
            this.segment = segment;
            this.rescued = rescued;
        }

        @Override
        public void record(SpoolRecord.Kind kind, long start, long end, byte[] payload) throws IOException {
            if (kind == SpoolRecord.Kind.DEAD) {
                return;
            }
            byte[] inner = SpoolRecord.inner(payload);
            if (kind == SpoolRecord.Kind.REMOVE) {
                String id = new String(inner, java.nio.charset.StandardCharsets.UTF_8);
                if (rescued == null || rescued.remove(id)) {
                    EntryCodec.Stored old = index.get(id);
                    if (old != null) {
                        index.apply(old.entry().id(), old, null, old.location());
                        if (old.location().inFile()) {
                            removedFiles.add(old.entry().id());
                        }
                        // Marked before the REMOVE was written, unless the entry had just moved
                        // to a copy that this replay brought back.
                        spool.markDead(old.location());
                    } else {
                        records.remove(id);
                    }
                }
                return;
            }
            EntryCodec.Stored stored;
            try {
                stored = EntryCodec.decodeStored(inner);
            } catch (EntryCodec.DecodeException ex) {
                // Intact by its CRC yet not an entry: written by a newer version, or a bug.
                keep(start, payload, "record does not decode: " + ex.getMessage());
                return;
            }
            String key = stored.entry().id().value();
            if (kind == SpoolRecord.Kind.UPDATE) {
                if (rescued == null || rescued.contains(key)) {
                    EntryCodec.Stored old = index.get(key);
                    if (old != null) {
                        // The bytes stay where the entry's record says; only the state is replayed.
                        index.apply(old.entry().id(), old, checked(stored.entry(), old.location()), old.location());
                    }
                }
                return;
            }
            if (records.containsKey(key) && rescued == null) {
                markIfCopy(key, start, stored.location());
                return;
            }
            if (records.containsKey(key) || quarantine.containsKey(key) && rescued == null) {
                return;
            }
            SpoolLocation loc = stored.location();
            if (loc.inFile() && !java.nio.file.Files.exists(spool.file(stored.entry().id()))) {
                // A large message's file goes only after the commit that removed its entry
                // (delivered or deleted), or with an accept that failed and was never
                // acknowledged: gone means done, and the record is all that is left. A file
                // that is there but short is damage: the entry is quarantined (see checked).
                LOG.info("{}: not recovered from the spool: its message file is gone, so it was"
                        + " delivered or deleted before the stop", key);
                return;
            }
            index.apply(stored.entry().id(), null, checked(stored.entry(), loc), loc);
            if (rescued != null) {
                rescued.add(key);
            }
            replayed++;
        }

        /**
         * An ACCEPT of an indexed entry at another location than the index's is a compaction's
         * copy (or, rebuilding, the later of two records) that a crash kept from being used: the
         * index decides, and the other record is marked dead.
         */
        private void markIfCopy(String key, long start, SpoolLocation loc) throws IOException {
            EntryCodec.Stored have = index.get(key);
            if (have != null && !have.location().equals(loc)) {
                spool.markDeadAt(segment, start);
                LOG.info("{}: a second spool record of it (a compaction's copy) marked dead", key);
            }
        }

        @Override
        public void damaged(long start, long end) throws IOException {
            keep(start, rangeBytes(spool, segment, start, end), "spool record damaged: " + (end - start) + " bytes skipped");
        }

        private void keep(long start, byte[] raw, String reason) {
            damageSeen = true;
            String key = rangeKey(segment, start);
            if (quarantine.containsKey(key)) {
                return;
            }
            quarantine.put(key, raw);
            quarantined.add(new MapDbQueue.Quarantined(key, reason));
        }
    }
}
