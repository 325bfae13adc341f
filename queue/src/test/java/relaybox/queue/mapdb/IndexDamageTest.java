package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.mapdb.DB;
import org.mapdb.DBException;
import org.mapdb.DBMaker;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.MutableClock;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static relaybox.queue.QueueContract.put;

/**
 * An index found damaged while the queue runs (MapDB fails a read the open did not make): the
 * read ends in {@link IndexDamage.Damaged}, the owner is told once, a marker makes the next open
 * rebuild the index from the spool, and that rebuild keeps every message and every outcome. The
 * damage campaign ({@link StoreDamageCampaignTest}) meets this with real bytes; here each step
 * is made to happen.
 */
class IndexDamageTest {

    @TempDir
    Path dir;

    @Test
    void aFailedReadMarksTheIndexForRebuildAndTellsTheOwnerOnce() {
        AtomicInteger told = new AtomicInteger();
        IndexDamage damage = new IndexDamage(dir);
        damage.onDamage(told::incrementAndGet);
        DB db = DBMaker.memoryDB().make();
        IndexStore store = new IndexStore(db, damage);

        IndexDamage.Damaged first = assertThrows(IndexDamage.Damaged.class,
                () -> store.read(() -> { throw new DBException.PointerChecksumBroken(); }));
        assertTrue(first.getCause() instanceof DBException.PointerChecksumBroken);
        assertTrue(IndexDamage.marked(dir), "marker written");
        assertThrows(IndexDamage.Damaged.class, () -> store.read(() -> { throw new InternalError("a fault occurred in an unsafe memory access"); }));
        assertEquals(1, told.get(), "told once, whatever the number of failing reads");
        db.close();
    }

    /**
     * A read that outlives the queue (a late status or metrics request at shutdown, or a thread
     * of a test that killed the queue) fails on the closed store. That is not damage: before the
     * fix it wrote the marker, and the next start moved a sound index aside and rebuilt it from
     * the spool (in StoreFailureCampaignTest, four needless rebuilds in 120 lifetimes).
     */
    @Test
    void aReadAfterTheCloseIsNotDamage() throws Exception {
        MutableClock clock = new MutableClock();
        MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock);
        AtomicInteger told = new AtomicInteger();
        q.onUntrusted(why -> told.incrementAndGet());
        QueueEntry e = put(q, "x", "a@x.example");
        q.close();
        try {
            q.view.stored(e.id());
        } catch (RuntimeException late) {
            // How the late read fails does not matter; that it marks nothing does.
        }
        assertFalse(IndexDamage.marked(dir), "no rebuild marker");
        assertEquals(0, told.get());
        try (MapDbQueue back = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            assertEquals(EntryState.QUEUED, back.get(e.id()).orElseThrow().state());
        }
    }

    /**
     * Each rebuild moves the damaged index aside; it used to move an earlier rebuild's write-ahead
     * log ("queue.db.wal.0.damaged-<time>") again, adding a suffix each time, until the name was
     * too long for the file system and the queue could not open at all (StoreFailureCampaignTest,
     * seed 54800370331004, after nine rebuilds). The earlier files now keep their names.
     */
    @Test
    void aRebuildLeavesAnEarlierRebuildsFilesAsTheyAre() throws Exception {
        MutableClock clock = new MutableClock();
        QueueEntry e;
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            e = put(q, "x", "a@x.example");
        }
        String old = "queue.db.wal.0.damaged-2026-01-01T00-00-00Z";
        Files.writeString(dir.resolve(old), "an earlier rebuild's log");
        Files.writeString(dir.resolve("queue.db.damaged-2026-01-01T00-00-00Z"), "its index");
        for (int i = 0; i < 12; i++) {
            Files.writeString(dir.resolve(IndexDamage.MARKER), "test\n");
            clock.advance(java.time.Duration.ofMinutes(1));
            try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
                assertEquals(EntryState.QUEUED, q.get(e.id()).orElseThrow().state(), "rebuild " + i);
            }
        }
        assertTrue(Files.exists(dir.resolve(old)), "left as it was");
        assertTrue(Files.exists(dir.resolve("queue.db.damaged-2026-01-01T00-00-00Z")));
    }

    @Test
    void anExceptionFromTheCallersOwnCodeIsNotDamage() throws Exception {
        AtomicInteger told = new AtomicInteger();
        IndexDamage damage = new IndexDamage(dir);
        damage.onDamage(told::incrementAndGet);
        DB db = DBMaker.memoryDB().make();
        IndexStore store = new IndexStore(db, damage);
        IllegalStateException mine = new IllegalStateException("a visitor's own failure");
        QueueEntry e = put(new relaybox.queue.memory.InMemoryQueue(new MutableClock(), RetrySchedule.DEFAULT), "x", "a@x.example");
        store.apply(e.id(), null, e, new SpoolLocation(0, 0, 1));
        store.flush();
        IllegalStateException thrown = assertThrows(IllegalStateException.class,
                () -> store.stateIds(EntryState.QUEUED, null, id -> { throw mine; }));
        assertSame(mine, thrown);
        assertFalse(IndexDamage.marked(dir));
        assertEquals(0, told.get());
        db.close();
    }

    @Test
    void theMarkerMakesTheNextOpenRebuildTheIndexFromTheSpool() throws Exception {
        MutableClock clock = new MutableClock();
        List<QueueEntry> acked = new ArrayList<>();
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            for (int i = 0; i < 5; i++) {
                acked.add(put(q, i == 4 ? "L".repeat(Spool.SMALL + 9) : "message " + i, "a@x.example"));
            }
            q.leaseDue(clock.instant(), 100);
            for (int i = 0; i < 5; i++) {
                q.recordOutcome(acked.get(i).id(), Map.of("a@x.example", i < 2
                        ? new DeliveryOutcome.Delivered("250 ok") : new DeliveryOutcome.Deferred("451 later")),
                        clock.instant());
            }
        }
        Files.writeString(dir.resolve(IndexDamage.MARKER), "test\n");
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            assertFalse(IndexDamage.marked(dir), "marker cleared once rebuilt");
            try (var files = Files.list(dir)) {
                assertTrue(files.anyMatch(p -> p.getFileName().toString().startsWith("queue.db.damaged-")),
                        "the old index moved aside");
            }
            assertEquals(acked.subList(2, 5).stream().map(QueueEntry::id).sorted().toList(),
                    q.list().stream().map(QueueEntry::id).sorted().toList(), "delivered stay delivered, the rest stay");
            for (QueueEntry e : q.list()) {
                assertEquals(EntryState.DEFERRED, e.state(), e.toString());
            }
            assertTrue(q.healthy());
        }
    }

    @Test
    void aMarkerNeverMovesAsideAnIndexThatIsStillOpen() throws Exception {
        MutableClock clock = new MutableClock();
        try (MapDbQueue running = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            put(running, "message", "a@x.example");
            // The daemon that wrote the marker is still stopping when something else opens the queue.
            Files.writeString(dir.resolve(IndexDamage.MARKER), "test\n");
            relaybox.queue.QueueException e = assertThrows(relaybox.queue.QueueException.class,
                    () -> MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock));
            assertTrue(e.getMessage().contains("locked by another process"), e.getMessage());
            try (var files = Files.list(dir)) {
                assertFalse(files.anyMatch(p -> p.getFileName().toString().startsWith("queue.db.damaged-")),
                        "the open index was moved aside");
            }
            assertTrue(IndexDamage.marked(dir), "the marker stays for the next open");
        }
    }

    /**
     * Seed 25950363005671 trial 190: a zeroed index page made MapDB's page table (an Eclipse
     * Collections LongArrayList) throw IndexOutOfBounds, whose top frame is not MapDB's; it went
     * to the caller instead of meaning a rebuild.
     */
    @Test
    void aFailureInALibraryMapDbCallsIsDamageButOneInOurCallbackIsNot() {
        StackTraceElement lib = new StackTraceElement(
                "org.eclipse.collections.impl.list.mutable.primitive.LongArrayList", "get", "L.java", 154);
        StackTraceElement mapdb = new StackTraceElement("org.mapdb.StoreWAL", "get", "StoreWAL.kt", 500);
        StackTraceElement ours = new StackTraceElement("relaybox.queue.mapdb.IndexStore", "read", "I.java", 222);
        RuntimeException fromLibrary = new IndexOutOfBoundsException("Index: 48 Size: 0");
        fromLibrary.setStackTrace(new StackTraceElement[] {lib, mapdb, ours});
        assertTrue(IndexDamage.fromStore(fromLibrary));
        RuntimeException fromCallback = new IllegalStateException("a bug of ours");
        fromCallback.setStackTrace(new StackTraceElement[] {ours, mapdb, ours});
        assertFalse(IndexDamage.fromStore(fromCallback));
    }

    /**
     * CrashLoopIT, seed 52898694574700: after a kill -9 the cross-check found "index entry
     * 2P3ZX7E3E9FX holds another entry" (MapDB handed back another key's value). Every read
     * must treat that as damage, never hand out the other entry (the forwarder would send one
     * message in place of another and record the outcome against the wrong entry), and the
     * owner, registered after the damage was found (the cross-check starts at the open), must
     * still be told; it was not, and the daemon refused all mail until it was killed.
     */
    @Test
    void aKeyHoldingAnotherEntryIsDamageAndAnOwnerRegisteredLaterIsStillTold() throws Exception {
        MutableClock clock = new MutableClock();
        QueueEntry a;
        QueueEntry b;
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            a = put(q, "message a", "a@x.example");
            b = put(q, "message b", "b@x.example");
            long until = System.nanoTime() + 10_000_000_000L;
            while (!q.view.overlay.isEmpty() && System.nanoTime() < until) {
                Thread.sleep(5);
            }
            assertTrue(q.view.overlay.isEmpty(), "both entries in the index");
            IndexStore index = q.view.index;
            index.lock.writeLock().lock();
            try {
                index.records.put(a.id().value(), index.records.get(b.id().value()));
            } finally {
                index.lock.writeLock().unlock();
            }

            IndexDamage.Damaged d = assertThrows(IndexDamage.Damaged.class, () -> q.get(a.id()),
                    "a's key must not yield b's entry");
            assertTrue(d.getMessage().contains("index entry " + a.id() + " holds another entry (" + b.id() + ")"),
                    d.getMessage());
            assertTrue(IndexDamage.marked(dir), "marked for a rebuild");
            assertFalse(q.healthy());
            assertThrows(IndexDamage.Damaged.class, () -> q.list(), "a listing does not hand it out either");

            List<String> told = new ArrayList<>();
            q.onUntrusted(told::add);
            assertEquals(List.of("the queue index is damaged; the next start rebuilds it from the spool"), told);
        }
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            assertEquals(List.of("a@x.example"), q.get(a.id()).orElseThrow().envelope().recipients(), "rebuilt from the spool");
            assertEquals(List.of("b@x.example"), q.get(b.id()).orElseThrow().envelope().recipients());
            assertTrue(q.healthy());
        }
    }

    @Test
    void aFailedCommitTellsTheOwnerToRestartOnce() throws Exception {
        MutableClock clock = new MutableClock();
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, clock)) {
            List<String> told = new ArrayList<>();
            q.onUntrusted(told::add);
            q.health.storeFailed();
            q.health.storeFailed();
            q.health.indexDamaged();
            assertEquals(List.of("a queue commit or spool fsync failed; the next start recovers the queue from the spool"),
                    told, "told once, with the first reason");
            assertThrows(relaybox.queue.QueueException.class, () -> put(q, "refused", "a@x.example"));
        }
    }
}
