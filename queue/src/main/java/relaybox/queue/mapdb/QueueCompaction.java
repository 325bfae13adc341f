package relaybox.queue.mapdb;

import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.util.concurrent.CompletableFuture;

/**
 * Owns the queue's side of compaction ({@link SegmentCompactor}), its only way in: copies of an
 * entry's record are appended under the queue's lock, and the move reaches the index as an
 * {@link IndexOp.Relocate}; the rest of the queue knows nothing of compaction.
 */
final class QueueCompaction implements SegmentCompactor.Host {

    private final MapDbQueue queue;
    private final IndexView view;
    private final Spool spool;
    private final SpoolSyncer syncer;
    private final IndexCommitter committer;
    private final SpaceGuard space;

    QueueCompaction(MapDbQueue queue, IndexView view, Spool spool, SpoolSyncer syncer, IndexCommitter committer,
                    SpaceGuard space) {
        this.queue = queue;
        this.view = view;
        this.spool = spool;
        this.syncer = syncer;
        this.committer = committer;
        this.space = space;
    }

    @Override
    public SpoolLocation location(QueueId id) {
        return view.location(id);
    }

    @Override
    public SpoolAppended copy(QueueId id, SpoolLocation from, byte[] body) throws IOException {
        // Under the queue's lock, which every write and removal of an entry holds while it
        // appends its journal record: each one of this entry that follows the copy is later
        // in the spool, so a replay applies it on top.
        synchronized (queue) {
            QueueEntry e = view.stored(id);
            if (e == null || !from.equals(view.location(id))) {
                return null;
            }
            SpoolLocation file = from.inFile() ? new SpoolLocation(-1, from.offset(), from.length()) : null;
            return spool.appendRecord(l -> EntryCodec.encode(e, l), body, body == null ? 0 : body.length, file);
        }
    }

    @Override
    public CompletableFuture<Void> syncSpool() {
        return syncer.next();
    }

    @Override
    public CompletableFuture<Boolean> relocate(QueueId id, SpoolLocation from, long fromStart, SpoolAppended to) {
        CompletableFuture<Boolean> done = new CompletableFuture<>();
        synchronized (queue) {
            QueueEntry e = view.stored(id);
            IndexOp.Staged st = null;
            if (e != null && from.equals(view.location(id))) {
                // Reads, journal records and a removal's dead mark go by the copy from now on.
                st = new IndexOp.Staged(e, to.location());
                view.overlay.put(id, st);
                view.relocated();
            }
            // Queued either way: the copy's record must reach the index's watermark.
            committer.submit(new IndexOp.Relocate(id, st == null ? null : from, fromStart, to, done, st));
        }
        return done;
    }

    @Override
    public boolean roomFor(long bytes) {
        return space.roomForCopy(bytes, queue.hooks.compactionRoom);
    }

    @Override
    public long liveBytes(long n) {
        return view.index.read(() -> view.index.segmentLive.getOrDefault(n, 0L));
    }

    @Override
    public void reached(String point) {
        queue.hooks.compaction.accept(point);
    }
}
