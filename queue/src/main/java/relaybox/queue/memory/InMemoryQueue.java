package relaybox.queue.memory;

import relaybox.queue.AbstractQueue;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.EntryCodec;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.SequenceInputStream;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.NavigableSet;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentSkipListMap;
import java.util.concurrent.ConcurrentSkipListSet;
import java.util.function.Predicate;

/**
 * A queue that keeps everything in heap and forgets it at exit: for tests of the stages around
 * the queue, and as the second implementation the queue contract runs against. Not durable.
 */
public final class InMemoryQueue extends AbstractQueue {

    private final Map<QueueId, byte[]> bodies = new ConcurrentHashMap<>();
    /** The entries at rest, as a store would hold them (leased ones in their state before the lease). */
    private final ConcurrentSkipListMap<QueueId, QueueEntry> entries = new ConcurrentSkipListMap<>();
    private final NavigableSet<Due> freshDue = new ConcurrentSkipListSet<>();
    private final NavigableSet<Due> retryDue = new ConcurrentSkipListSet<>();
    private volatile boolean closed;

    public InMemoryQueue(Clock clock, RetrySchedule schedule) {
        super(clock, schedule);
    }

    public InMemoryQueue() {
        this(Clock.systemUTC(), RetrySchedule.DEFAULT);
    }

    @Override
    public Optional<String> describe(QueueId id) {
        return get(id).map(EntryCodec::toText);
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
        admit(e, () -> write(e, false));
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
    protected QueueEntry stored(QueueId id) {
        return entries.get(id);
    }

    @Override
    protected List<QueueEntry> storedDue(boolean fresh, Due after, int max) {
        NavigableSet<Due> set = fresh ? freshDue : retryDue;
        List<QueueEntry> out = new ArrayList<>();
        for (Due d : after == null ? set : set.tailSet(after, false)) {
            if (out.size() == max) {
                break;
            }
            QueueEntry e = entries.get(d.id());
            if (e != null) {
                // Read outside the queue's monitor (a refill), an entry may go between the two reads.
                out.add(e);
            }
        }
        return out;
    }

    @Override
    protected void scanStored(Set<EntryState> states, QueueId after, Predicate<QueueEntry> visitor) {
        for (QueueEntry e : (after == null ? entries : entries.tailMap(after, false)).values()) {
            if ((states.isEmpty() || states.contains(e.state())) && !visitor.test(e)) {
                return;
            }
        }
    }

    @Override
    protected Optional<QueueEntry> firstStored(EntryState state) {
        return entries.values().stream().filter(e -> e.state() == state).findFirst();
    }

    @Override
    protected CompletableFuture<Void> write(QueueEntry entry, boolean urgent) {
        unindex(entries.put(entry.id(), entry));
        if (entry.state() == EntryState.QUEUED || entry.state() == EntryState.DEFERRED) {
            (entry.attempts() == 0 ? freshDue : retryDue).add(Due.of(entry));
        }
        return CompletableFuture.completedFuture(null);
    }

    private void unindex(QueueEntry old) {
        if (old != null) {
            freshDue.remove(Due.of(old));
            retryDue.remove(Due.of(old));
        }
    }

    @Override
    protected CompletableFuture<Void> erase(QueueEntry entry, boolean urgent) {
        unindex(entries.remove(entry.id()));
        bodies.remove(entry.id());
        return CompletableFuture.completedFuture(null);
    }

    @Override
    protected void checkWritable() throws QueueException {
        if (closed) {
            throw new QueueException(QueueException.Kind.STORAGE_ERROR, "queue is closed");
        }
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
