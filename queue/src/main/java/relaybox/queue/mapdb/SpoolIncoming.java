package relaybox.queue.mapdb;

import relaybox.queue.Queue.Incoming;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.io.OutputStream;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Owns one message on its way into the spool: its writer, and its place in the queue's count of
 * messages being received (which the spool fsync waits on), from its first body byte to its
 * accept or discard: only then is its end near (a body of a few KiB arrives in one or two
 * reads). Counted from MAIL, as it first was, ten sessions kept the count above zero nearly
 * always, and every spool fsync waited out the whole gather time for messages still three
 * round trips away from their final dot.
 */
final class SpoolIncoming implements Incoming {
    private static final int WAITING = 0;
    private static final int RECEIVING = 1;
    private static final int FINISHED = 2;

    final MessageWriter writer;
    private final AtomicInteger receiving;
    private final AtomicInteger phase = new AtomicInteger(WAITING);
    private final OutputStream body;

    SpoolIncoming(MessageWriter writer, AtomicInteger receiving) {
        this.writer = writer;
        this.receiving = receiving;
        this.body = new OutputStream() {
            @Override
            public void write(int b) throws IOException {
                started();
                writer.out.write(b);
            }

            @Override
            public void write(byte[] b, int off, int len) throws IOException {
                started();
                writer.out.write(b, off, len);
            }

            @Override
            public void flush() throws IOException {
                writer.out.flush();
            }
        };
    }

    private void started() {
        if (phase.get() == WAITING && phase.compareAndSet(WAITING, RECEIVING)) {
            receiving.incrementAndGet();
        }
    }

    boolean finished() {
        return phase.get() == FINISHED;
    }

    /** Marks the end of receiving, once: accepted or discarded. */
    void finish() {
        if (phase.getAndSet(FINISHED) == RECEIVING) {
            receiving.decrementAndGet();
        }
    }

    @Override
    public QueueId id() {
        return writer.id;
    }

    @Override
    public OutputStream body() {
        return body;
    }

    @Override
    public void discard() {
        if (!finished()) {
            finish();
            writer.discard(null);
        }
    }
}
