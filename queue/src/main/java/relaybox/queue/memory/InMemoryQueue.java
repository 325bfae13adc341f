package relaybox.queue.memory;

import relaybox.queue.AbstractQueue;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * A queue that keeps everything in heap and forgets it at exit: for tests of the stages around
 * the queue, and as the second implementation the queue contract runs against. Not durable.
 */
public final class InMemoryQueue extends AbstractQueue {

    private final Map<QueueId, byte[]> bodies = new ConcurrentHashMap<>();
    private volatile boolean closed;

    public InMemoryQueue(Clock clock, RetrySchedule schedule) {
        super(clock, schedule);
    }

    public InMemoryQueue() {
        this(Clock.systemUTC(), RetrySchedule.DEFAULT);
    }

    @Override
    public Incoming receive() throws QueueException {
        if (closed) {
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "queue is closed");
        }
        QueueId id = QueueId.next(clock.instant());
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        return new Incoming() {
            @Override
            public QueueId id() {
                return id;
            }

            @Override
            public OutputStream body() {
                return out;
            }

            @Override
            public void discard() {
                // Nothing is kept until accept.
            }

            @Override
            public String toString() {
                return new String(out.toByteArray(), StandardCharsets.ISO_8859_1);
            }
        };
    }

    @Override
    public QueueEntry accept(Incoming incoming, Envelope envelope, String addedHeaders) throws QueueException {
        if (closed) {
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "queue is closed");
        }
        byte[] body = ((ByteArrayOutputStream) incoming.body()).toByteArray();
        long size = addedHeaders.getBytes(StandardCharsets.UTF_8).length + (long) body.length;
        QueueEntry e = QueueEntry.accepted(incoming.id(), envelope, addedHeaders, size, clock.instant());
        bodies.put(e.id(), body);
        index(e);
        return e;
    }

    @Override
    public InputStream openMessage(QueueId id) throws IOException {
        byte[] body = bodies.get(id);
        QueueEntry e = get(id).orElse(null);
        if (body == null || e == null) {
            throw new IOException("no message for " + id);
        }
        return new SequenceInputStream(new ByteArrayInputStream(e.addedHeaders().getBytes(StandardCharsets.UTF_8)),
                new ByteArrayInputStream(body));
    }

    @Override
    protected void store(QueueEntry entry, boolean wait) {
        // Nothing to persist.
    }

    @Override
    protected void drop(QueueEntry entry, boolean wait) {
        bodies.remove(entry.id());
    }

    @Override
    protected void onAsyncStoreFailure(QueueEntry entry, QueueException e) {
        throw new IllegalStateException("in-memory store cannot fail", e);
    }

    @Override
    public boolean healthy() {
        return !closed;
    }

    @Override
    public void close() {
        closed = true;
        wakeAll();
    }
}
