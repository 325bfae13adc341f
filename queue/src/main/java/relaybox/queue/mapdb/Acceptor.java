package relaybox.queue.mapdb;

import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueException;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static relaybox.queue.mapdb.StorageErrors.asQueueException;
import static relaybox.queue.mapdb.StorageErrors.storageError;

/**
 * Owns the way of a message into the queue: a spool writer per message received, then at the
 * final dot its ACCEPT record, the group fsync it waits for, and its handing to the queue
 * ({@link MapDbQueue#admitted}) only once durable. A large message's own file is fsynced first,
 * on a small pool of its own.
 */
final class Acceptor {

    private final MapDbQueue queue;
    private final Spool spool;
    private final SpoolSyncer syncer;
    private final SpaceGuard freeSpace;
    private final Clock clock;
    /** Runs the accepts of messages in their own file (see {@link #acceptAsync}), as many as arrive at once. */
    private final ExecutorService largeWriters = Executors.newCachedThreadPool(r -> {
        Thread t = new Thread(r, "queue-large-accept");
        t.setDaemon(true);
        return t;
    });

    Acceptor(MapDbQueue queue, Spool spool, SpoolSyncer syncer, SpaceGuard freeSpace, Clock clock) {
        this.queue = queue;
        this.spool = spool;
        this.syncer = syncer;
        this.freeSpace = freeSpace;
        this.clock = clock;
    }

    Queue.Incoming receive() throws QueueException {
        queue.checkWritable();
        queue.space.check();
        return new SpoolIncoming(spool.writer(QueueId.next(clock.instant())), syncer.receiving);
    }

    /** {@link #acceptAsync}, waiting for its commit: see {@link MapDbQueue#accept}. */
    QueueEntry accept(Queue.Incoming incoming, Envelope envelope, String addedHeaders) throws QueueException {
        try {
            return acceptAsync(incoming, envelope, addedHeaders).toCompletableFuture().get();
        } catch (ExecutionException e) {
            throw asQueueException(e.getCause());
        } catch (InterruptedException e) {
            // The message may still become durable and be sent; the client, told 451, may send it
            // again: a duplicate, never a loss.
            Thread.currentThread().interrupt();
            throw storageError("interrupted while waiting for the queue commit", e);
        }
    }

    CompletableFuture<QueueEntry> acceptAsync(Queue.Incoming incoming, Envelope envelope, String addedHeaders) {
        if (!(incoming instanceof SpoolIncoming in)) {
            throw new IllegalArgumentException("incoming message is not from this queue");
        }
        if (in.finished()) {
            throw new IllegalStateException(in.id() + " was already accepted or discarded");
        }
        in.finish();
        if (in.writer.spilled()) {
            // A large message's own file is fsynced before its record is appended, so a durable
            // record never names a partial file. That fsync takes milliseconds per megabyte: it
            // runs here, off the caller's event loop.
            return CompletableFuture.supplyAsync(() -> store(in, envelope, addedHeaders), largeWriters)
                    .thenCompose(f -> f);
        }
        return store(in, envelope, addedHeaders);
    }

    /** Writes the record and returns the stage that completes after the spool fsync that covers it. */
    private CompletableFuture<QueueEntry> store(SpoolIncoming in, Envelope envelope, String addedHeaders) {
        SpoolLocation loc = null;
        try {
            queue.checkWritable();
            SpoolLocation file;
            try {
                file = in.writer.finish();
            } catch (IOException e) {
                throw storageError("cannot write the message to the spool: " + e, e);
            }
            long bodySize = file == null ? in.writer.smallSize() : file.length();
            // Checked after the bytes are written, so a message that ate the reserve is refused too.
            freeSpace.wrote(bodySize);
            queue.space.check();
            long size = bodySize + addedHeaders.getBytes(StandardCharsets.UTF_8).length;
            QueueEntry e = QueueEntry.accepted(in.id(), envelope, addedHeaders, size, clock.instant());
            SpoolAppended a;
            try {
                a = spool.appendRecord(l -> EntryCodec.encode(e, l), file == null ? in.writer.smallBytes() : null,
                        in.writer.smallSize(), file);
            } catch (IOException ex) {
                throw storageError("cannot append to the spool: " + ex, ex);
            }
            SpoolLocation where = a.location();
            loc = where;
            // The 250 waits for this one fsync (shared by every accept waiting with it), not for
            // the index: the record in the spool is self-describing and recovery reads it back.
            return syncer.next().handle((v, failure) -> {
                if (failure != null) {
                    in.writer.discard(where);
                    throw new CompletionException(asQueueException(failure));
                }
                return queue.admitted(e, a);
            });
        } catch (QueueException | RuntimeException ex) {
            in.writer.discard(loc);
            return CompletableFuture.failedFuture(ex);
        }
    }

    /** Lets the large accepts in progress finish (close). */
    void stop() {
        largeWriters.shutdown();
        try {
            largeWriters.awaitTermination(10, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Abandons them (tests: as kill -9 would). */
    void crash() {
        largeWriters.shutdownNow();
    }
}
