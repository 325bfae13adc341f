package relaybox.queue;

import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;

/**
 * Owns the admin's bulk "retry everything now" walk over an {@link AbstractQueue}'s store.
 * Split out of {@link AbstractQueue} because it is the one transition that pages through the
 * store instead of touching one entry; it takes the queue's monitor per page, exactly as the
 * queue's own transitions do, so the store still sees writes in the order they happened.
 */
final class RetryAll {

    private RetryAll() {
    }

    /**
     * Walks the store's due order past {@code now}, a page at a time, so a million deferred
     * entries cost a page of heap: each page's writes are queued before the next page is read,
     * and between pages the walk waits while the store has many writes outstanding
     * ({@link AbstractQueue#awaitRoom}), so its backlog stays bounded.
     *
     * @param leased the queue's leases; read only under the queue's monitor
     */
    static int run(AbstractQueue q, Map<QueueId, QueueEntry> leased, Instant now) {
        int moved = 0;
        for (boolean kind : new boolean[]{false, true}) {
            AbstractQueue.Due after = AbstractQueue.Due.after(now);
            while (true) {
                CompletableFuture<Void> last = null;
                int got;
                synchronized (q) {
                    List<QueueEntry> page = q.storedDue(kind, after, AbstractQueue.WINDOW);
                    got = page.size();
                    for (QueueEntry e : page) {
                        after = AbstractQueue.Due.of(e);
                        if (leased.containsKey(e.id())) {
                            continue;
                        }
                        QueueEntry n = e.retriedNow(now);
                        last = q.write(n, false);
                        q.place(e, n);
                        moved++;
                    }
                }
                if (last != null && last.isCompletedExceptionally()) {
                    // The store reports its own failure; the entries keep their old schedule.
                    break;
                }
                if (got < AbstractQueue.WINDOW) {
                    break;
                }
                q.awaitRoom();
            }
        }
        return moved;
    }
}
