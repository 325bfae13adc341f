package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.Envelope;
import relaybox.queue.MutableClock;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The spool's sync ({@link UnsyncedWrites#sync}) against segments that go while it runs. Every
 * sync failure stops the queue (QueueHealth#storeFailed: each accept is refused until a restart),
 * so a sync may fail only when a write it covers could not be made durable, never because a
 * segment nothing needs any more was deleted under it.
 */
class SpoolSyncTest {

    static final long SEGMENT = 1L << 20;

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path root;

    /**
     * A segment being deleted has its channel closed under the spool's lock and its file deleted
     * just after; a dead mark or sync that looked in between opened the file again and kept the
     * channel for the rest of the run: a deleted segment's blocks held until the process ended.
     */
    @Test
    void aSegmentBeingDeletedIsNotOpenedAgain() throws Exception {
        Spool spool = new Spool(root.resolve("gone"), SEGMENT);
        try {
            Instant now = Instant.now();
            byte[] body = new byte[Spool.SMALL];
            QueueEntry e = QueueEntry.accepted(QueueId.next(now), Envelope.of("app@example.org",
                    List.of("a@x.example")), "", body.length, now);
            SpoolAppended a = spool.appendRecord(l -> EntryCodec.encode(e, l), body, body.length, null);
            synchronized (spool) {
                spool.channels.close(a.segment());
            }
            assertTrue(Files.exists(spool.segment(a.segment())), "the file goes after the lock");
            org.junit.jupiter.api.Assertions.assertNull(spool.channel(a.segment()), "not opened again");
        } finally {
            spool.close();
        }
    }

    /**
     * An accept that got past the queue's check just before a close (or a kill) asks for its
     * fsync after the sync thread has gone: it is refused at once. Before, it waited for ever
     * (a session hung at shutdown; a campaign thread that never stopped).
     */
    @Test
    void anFsyncAskedForAfterTheCloseFailsAtOnce() throws Exception {
        MapDbQueue closed = MapDbQueue.open(root.resolve("closed"), 0, RetrySchedule.DEFAULT, new MutableClock());
        closed.close();
        assertTrue(closed.workers.syncer.next().isCompletedExceptionally(), "after a close");
        MapDbQueue killed = MapDbQueue.open(root.resolve("killed"), 0, RetrySchedule.DEFAULT, new MutableClock());
        killed.crashForTest();
        assertTrue(killed.workers.syncer.next().isCompletedExceptionally(), "after a kill");
    }

    /**
     * An entry's removal writes a dead mark in its (old) segment, and the commit of that removal
     * deletes the segment when it was the last entry there: the committer closes the segment's
     * channel and deletes the file. When the accepts' group fsync had taken that dead mark and
     * was forcing the segment at that moment, the force met a closed channel; before the fix its
     * ClosedChannelException failed the sync, the queue stopped accepting mail until a restart
     * (the crash loop's run with 1,175 refusals on a healthy disk fits this).
     */
    @Test
    void aSegmentDeletedWhileTheSyncForcesItDoesNotFailTheSync() throws Exception {
        Spool spool = new Spool(root.resolve("spool"), SEGMENT);
        try {
            Instant now = Instant.now();
            byte[] body = "Subject: x\r\n\r\nhello\r\n".getBytes(java.nio.charset.StandardCharsets.UTF_8);
            SpoolFixtures.Placed placed = SpoolFixtures.onlyRecordOfAFullSegment(spool, body, "a@x.example");
            QueueEntry e = placed.entry();
            SpoolAppended a = placed.at();
            spool.sync();
            Path file = spool.segment(a.segment());
            assertTrue(Files.exists(file));

            // The entry is delivered: its dead mark waits for the next sync, which takes it; the
            // commit of its removal releases the segment's last reference as that sync forces it.
            assertTrue(spool.markDead(a.location()));
            spool.unsynced.beforeForce = n -> {
                if (n == a.segment()) {
                    spool.unsynced.beforeForce = m -> { };
                    spool.release(e.id(), a.location());
                }
            };
            spool.sync();
            assertFalse(Files.exists(file), "the segment went once its last entry was released");
            // And the spool goes on: the next sync covers a new append.
            QueueEntry g = QueueEntry.accepted(QueueId.next(now), e.envelope(), "", body.length, now);
            spool.appendRecord(l -> EntryCodec.encode(g, l), body, body.length, null);
            spool.sync();
        } finally {
            spool.close();
        }
    }
}
