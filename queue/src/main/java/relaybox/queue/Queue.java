package relaybox.queue;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionStage;
import java.util.function.Predicate;

/**
 * The durable queue: the only owner of stored mail and of every entry's state. The intake puts
 * messages in; the dispatcher leases them and reports outcomes; the admin interface inspects and
 * steers. It never decides when to send and never speaks SMTP.
 *
 * <h2>Call order for a new message</h2>
 * {@link #receive()} reserves an id and a spool file; the intake streams the message into
 * {@link Incoming#body()} as it arrives, then calls {@link #accept}. {@code accept} returns only
 * after the message bytes and the entry are durable on disk, so the id it returns may be
 * acknowledged to the client with a 250. On any failure the intake calls
 * {@link Incoming#discard()} (safe to call after accept, where it does nothing).
 *
 * <h2>Failure behaviour</h2>
 * Every write can fail with {@link QueueException}: {@code STORAGE_FULL} when the filesystem is
 * below the configured free-space reserve (checked before anything reaches the store, because
 * MapDB damages itself when the disk fills during a commit), {@code STORAGE_ERROR} otherwise.
 * A failed accept leaves nothing behind and changes nothing already accepted.
 *
 * <h2>Durability of other transitions</h2>
 * Leases are in memory only: a crash returns leased entries to QUEUED at the next open, which can
 * send a message twice but never loses one. Outcomes are recorded in memory at once and written
 * by the next index write without making the caller wait; a crash in between means a redelivery.
 * Admin actions (hold, release, delete, retry, requeue) return after their commit.
 *
 * <h2>Thread safety</h2>
 * All methods may be called from any thread.
 */
public interface Queue extends AutoCloseable {

    /** A message being received: its id and where its bytes go. */
    interface Incoming {
        QueueId id();

        /** The message bytes exactly as they will be sent upstream. Do not close it. */
        OutputStream body();

        /** Forget the message (client gone, message refused). Idempotent. */
        void discard();
    }

    /**
     * Reserves an id and spool space for a new message.
     *
     * @throws QueueException STORAGE_FULL below the free-space reserve, STORAGE_ERROR otherwise
     */
    Incoming receive() throws QueueException;

    /**
     * Makes the message durable and queues it. Returns only once the message bytes and the entry
     * are on disk: the returned entry's id may be acknowledged to the client.
     *
     * @param addedHeaders header lines the relay adds above the client's bytes (Received:, a
     *                     missing Date: or Message-ID:, DKIM-Signature:), each ending in CRLF; they
     *                     are stored with the entry and sent before the spooled bytes, so the
     *                     client's bytes are never rewritten
     */
    QueueEntry accept(Incoming incoming, Envelope envelope, String addedHeaders) throws QueueException;

    /**
     * {@link #accept} without waiting for the disk: what can be done at once (writing the record)
     * is done before this returns, and the stage completes, on a queue thread, once the message is
     * durable, with the entry; or fails with a {@link QueueException} (on any failure the message
     * is forgotten, as with {@code accept}). The intake's event loops use this, so a session
     * waiting for the fsync holds up no other session. Dependent actions must not block: hand
     * them to another executor.
     */
    default CompletionStage<QueueEntry> acceptAsync(Incoming incoming, Envelope envelope, String addedHeaders) {
        try {
            return CompletableFuture.completedFuture(accept(incoming, envelope, addedHeaders));
        } catch (QueueException | RuntimeException e) {
            return CompletableFuture.failedFuture(e);
        }
    }

    /**
     * Leases up to {@code max} entries that are due at {@code now}: they move to SENDING and are not
     * leased again until their outcome is recorded or they are returned. Mail that has never been
     * tried is taken before retries, so a deferred backlog cannot starve new mail.
     */
    List<QueueEntry> leaseDue(Instant now, int max);

    /**
     * Records the outcome of an attempt on a leased entry, per pending recipient (missing ones are
     * deferred). Returns the entry's new state (DELIVERED entries are removed), or empty if the
     * entry was deleted while it was being sent.
     */
    Optional<QueueEntry> recordOutcome(QueueId id, Map<String, DeliveryOutcome> outcomes, Instant now);

    /** Gives back a leased entry without an outcome (for example at shutdown). */
    void returnLease(QueueId id);

    /**
     * Opens the message as it is to be sent: the entry's added headers, then the spooled bytes.
     * The stream reads from disk; the message is never held whole in memory.
     */
    InputStream openMessage(QueueId id) throws IOException;

    /**
     * Waits until an entry may be due or {@code maxWait} passes. Returns at once if something is
     * due. Wake-ups may be spurious; callers lease and wait again.
     */
    void awaitDue(Duration maxWait) throws InterruptedException;

    /**
     * Makes every QUEUED or DEFERRED entry that is not yet due, due now (the upstream came back).
     * Returns how many. Works through the store's due order a page at a time, in bounded memory.
     */
    int retryAll(Instant now);

    /** Admin actions. Each returns the result for the entry, and is durable when it returns. */
    ActionResult hold(QueueId id) throws QueueException;

    ActionResult release(QueueId id) throws QueueException;

    ActionResult retryNow(QueueId id) throws QueueException;

    ActionResult requeue(QueueId id) throws QueueException;

    ActionResult delete(QueueId id) throws QueueException;

    /** The outcome of an admin action on one entry. */
    enum ActionResult {
        DONE,
        NOT_FOUND,
        /** The entry's state does not allow it (for example hold while sending); nothing changed. */
        NOT_APPLICABLE
    }

    Optional<QueueEntry> get(QueueId id);

    /**
     * The entry as readable "key: value" lines, the form {@code relaybox queue show} prints, or
     * empty when there is no such entry. The store knows its record's fields best, so it writes them.
     */
    default Optional<String> describe(QueueId id) {
        return get(id).map(QueueEntry::toString);
    }

    /**
     * Visits the entries {@code filter} selects, in id order (the order they were received), until
     * the visitor returns false or the filter's limit is reached. Reads from the store as it goes:
     * constant memory however deep the queue. Entries changing during the walk may be seen in
     * their old or new state; none is visited twice.
     */
    void scan(QueueFilter filter, Predicate<QueueEntry> visitor);

    /**
     * Every entry, oldest first, in one list: for tests and small tools only. It holds the whole
     * queue in memory; the daemon and the CLI use {@link #scan}.
     */
    default List<QueueEntry> list() {
        List<QueueEntry> all = new ArrayList<>();
        scan(QueueFilter.ALL, all::add);
        return all;
    }

    /**
     * The earliest received entry in one of {@code states}, read from the store's state index
     * without a walk (cheap at any depth; for the oldest-age gauge and {@code queue stats}).
     */
    Optional<QueueEntry> oldest(Set<EntryState> states);

    /**
     * How many entries are in each state (states with none are present with 0). Kept up to date
     * with every transition, and kept by the store with its entries: never a walk.
     */
    Map<EntryState, Long> counts();

    /** True when the store accepted its last commit; false after a storage failure. */
    boolean healthy();

    /**
     * How far the background cross-check after an unclean stop has got ({@link CrossCheckProgress}):
     * cheap, never blocks, for status, metrics and health. NONE for a store that needs none.
     */
    default CrossCheckProgress crossCheckProgress() {
        return CrossCheckProgress.NONE;
    }

    /** Stops accepting, writes what is pending and closes the store. Idempotent. */
    @Override
    void close();
}
