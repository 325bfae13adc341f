package relaybox.relay.intake;

import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;
import relaybox.queue.memory.InMemoryQueue;

import java.io.IOException;
import java.io.InputStream;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * An in-memory queue the test can make fail or wait: "full" makes receive and accept throw
 * STORAGE_FULL, {@code beforeAccept} runs inside accept (to block it; acceptAsync runs accept on
 * its own thread, as the real queue completes on its fsync thread), and it counts
 * reservations not yet accepted or discarded, to prove no spool space leaks.
 */
final class ControllableQueue implements Queue {

    final InMemoryQueue delegate = new InMemoryQueue();
    volatile boolean full;
    volatile Consumer<Incoming> beforeAccept = i -> { };
    final AtomicInteger outstanding = new AtomicInteger();

    /** Fails when a reservation was neither accepted nor discarded; a test runs it once the intake is closed. */
    void assertNothingOutstanding() {
        assertEquals(0, outstanding.get(), "spool reservations neither accepted nor discarded");
    }

    @Override
    public Incoming receive() throws QueueException {
        if (full) {
            throw new QueueException(QueueException.Kind.STORAGE_FULL, "test: full");
        }
        Incoming in = delegate.receive();
        outstanding.incrementAndGet();
        return new Tracked(in);
    }

    private final class Tracked implements Incoming {
        final Incoming inner;
        private boolean done;

        Tracked(Incoming inner) {
            this.inner = inner;
        }

        @Override
        public QueueId id() {
            return inner.id();
        }

        @Override
        public java.io.OutputStream body() {
            return inner.body();
        }

        @Override
        public synchronized void discard() {
            end();
            inner.discard();
        }

        synchronized void end() {
            if (!done) {
                done = true;
                outstanding.decrementAndGet();
            }
        }
    }

    /** Stands in for the queue's fsync thread: a blocked accept completes later, elsewhere. */
    private final java.util.concurrent.ExecutorService completer = java.util.concurrent.Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "test-queue-completer");
        t.setDaemon(true);
        return t;
    });

    /** Like the real queue: returns at once and completes on a queue thread, however long accept blocks. */
    @Override
    public java.util.concurrent.CompletionStage<QueueEntry> acceptAsync(Incoming incoming, Envelope envelope,
                                                                         String addedHeaders) {
        return java.util.concurrent.CompletableFuture.supplyAsync(() -> {
            try {
                return accept(incoming, envelope, addedHeaders);
            } catch (QueueException e) {
                throw new java.util.concurrent.CompletionException(e);
            }
        }, completer);
    }

    @Override
    public QueueEntry accept(Incoming incoming, Envelope envelope, String addedHeaders) throws QueueException {
        beforeAccept.accept(incoming);
        if (full) {
            throw new QueueException(QueueException.Kind.STORAGE_FULL, "test: full");
        }
        Tracked t = (Tracked) incoming;
        QueueEntry e = delegate.accept(t.inner, envelope, addedHeaders);
        t.end();
        return e;
    }

    @Override
    public List<QueueEntry> leaseDue(Instant now, int max) {
        return delegate.leaseDue(now, max);
    }

    @Override
    public Optional<QueueEntry> recordOutcome(QueueId id, Map<String, DeliveryOutcome> outcomes, Instant now) {
        return delegate.recordOutcome(id, outcomes, now);
    }

    @Override
    public void returnLease(QueueId id) {
        delegate.returnLease(id);
    }

    @Override
    public InputStream openMessage(QueueId id) throws IOException {
        return delegate.openMessage(id);
    }

    @Override
    public void awaitDue(Duration maxWait) throws InterruptedException {
        delegate.awaitDue(maxWait);
    }

    @Override
    public int retryAll(Instant now) {
        return delegate.retryAll(now);
    }

    @Override
    public ActionResult hold(QueueId id) throws QueueException {
        return delegate.hold(id);
    }

    @Override
    public ActionResult release(QueueId id) throws QueueException {
        return delegate.release(id);
    }

    @Override
    public ActionResult retryNow(QueueId id) throws QueueException {
        return delegate.retryNow(id);
    }

    @Override
    public ActionResult requeue(QueueId id) throws QueueException {
        return delegate.requeue(id);
    }

    @Override
    public ActionResult delete(QueueId id) throws QueueException {
        return delegate.delete(id);
    }

    @Override
    public Optional<QueueEntry> get(QueueId id) {
        return delegate.get(id);
    }

    @Override
    public void scan(relaybox.queue.QueueFilter filter, java.util.function.Predicate<QueueEntry> visitor) {
        delegate.scan(filter, visitor);
    }

    @Override
    public Optional<QueueEntry> oldest(java.util.Set<EntryState> states) {
        return delegate.oldest(states);
    }

    @Override
    public Map<EntryState, Long> counts() {
        return delegate.counts();
    }

    @Override
    public boolean healthy() {
        return delegate.healthy();
    }

    @Override
    public void close() {
        delegate.close();
    }
}
