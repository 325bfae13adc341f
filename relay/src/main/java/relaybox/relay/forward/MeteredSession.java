package relaybox.relay.forward;

import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.relay.metrics.RelayMetrics;

/**
 * Counts one upstream session for the metrics: opened when made, and on close the number of
 * messages it carried (the messages-per-connection distribution). Owns nothing else; every call
 * goes to the session it wraps.
 */
final class MeteredSession implements UpstreamSession {

    private final UpstreamSession inner;
    private final String upstream;
    private final RelayMetrics metrics;
    private int carried;
    private boolean closed;

    MeteredSession(UpstreamSession inner, String upstream, RelayMetrics metrics) {
        this.inner = inner;
        this.upstream = upstream;
        this.metrics = metrics;
        metrics.connectionOpened(upstream);
    }

    @Override
    public Attempt send(QueueEntry entry, MessageSource source) {
        carried++;
        return inner.send(entry, source);
    }

    @Override
    public Attempt send(QueueEntry entry, MessageSource source, QueueEntry next) {
        carried++;
        return inner.send(entry, source, next);
    }

    @Override
    public QueueId sentAhead() {
        return inner.sentAhead();
    }

    @Override
    public FailurePolicy.Decision upstreamSignal() {
        return inner.upstreamSignal();
    }

    @Override
    public boolean reusable() {
        return inner.reusable();
    }

    @Override
    public boolean keepAlive() {
        return inner.keepAlive();
    }

    @Override
    public String upstream() {
        return inner.upstream();
    }

    @Override
    public void close() {
        try {
            inner.close();
        } finally {
            if (!closed) {
                closed = true;
                metrics.connectionClosed(upstream, carried);
            }
        }
    }
}
