package relaybox.relay.log;

import relaybox.queue.QueueId;
import relaybox.relay.dkim.MessageSigner.SignedBy;

import java.time.Duration;
import java.util.List;

/** Hands each mail event to every listener in order; owns nothing else ({@link MailEvents#all}). */
final class AllListeners implements MailEvents {

    private final List<MailEvents> listeners;

    AllListeners(List<MailEvents> listeners) {
        this.listeners = List.copyOf(listeners);
    }

    @Override
    public void queued(QueueId id, String from, int nrcpt, long size, String client, String helo, String tls,
                       List<SignedBy> dkim) {
        listeners.forEach(l -> l.queued(id, from, nrcpt, size, client, helo, tls, dkim));
    }

    @Override
    public void pickedUp(QueueId id, String from, int nrcpt, long size, int uid, String file, List<SignedBy> dkim) {
        listeners.forEach(l -> l.pickedUp(id, from, nrcpt, size, uid, file, dkim));
    }

    @Override
    public void pickupRejected(String file, int uid, String from, String reason) {
        listeners.forEach(l -> l.pickupRejected(file, uid, from, reason));
    }

    @Override
    public void rejected(String from, String to, String client, Refusal why, String reply) {
        listeners.forEach(l -> l.rejected(from, to, client, why, reply));
    }

    @Override
    public void delivered(QueueId id, String to, String upstream, int attempt, Duration delay, String delays,
                          String reply) {
        listeners.forEach(l -> l.delivered(id, to, upstream, attempt, delay, delays, reply));
    }

    @Override
    public void deferred(QueueId id, String to, String upstream, int attempt, String next, String stage,
                         String reply) {
        listeners.forEach(l -> l.deferred(id, to, upstream, attempt, next, stage, reply));
    }

    @Override
    public void failed(QueueId id, String to, String upstream, int attempt, String stage, String reply) {
        listeners.forEach(l -> l.failed(id, to, upstream, attempt, stage, reply));
    }

    @Override
    public void upstreamDown(String name, String upstream, String reason) {
        listeners.forEach(l -> l.upstreamDown(name, upstream, reason));
    }

    @Override
    public void upstreamUp(String name, String upstream, int retried) {
        listeners.forEach(l -> l.upstreamUp(name, upstream, retried));
    }

    @Override
    public void upstreamPaused(String name, String cause, String until, String reason) {
        listeners.forEach(l -> l.upstreamPaused(name, cause, until, reason));
    }

    @Override
    public void upstreamResumed(String name, String by, int retried) {
        listeners.forEach(l -> l.upstreamResumed(name, by, retried));
    }

    @Override
    public void dsnQueued(QueueId id, QueueId dsn, String to) {
        listeners.forEach(l -> l.dsnQueued(id, dsn, to));
    }

    @Override
    public void dsnSkipped(QueueId id, String reason) {
        listeners.forEach(l -> l.dsnSkipped(id, reason));
    }

    @Override
    public void queueEvent(QueueId id, String event) {
        listeners.forEach(l -> l.queueEvent(id, event));
    }

    @Override
    public void purged(QueueId id, String reason) {
        listeners.forEach(l -> l.purged(id, reason));
    }

    @Override
    public void quarantined(String id, String reason) {
        listeners.forEach(l -> l.quarantined(id, reason));
    }
}
