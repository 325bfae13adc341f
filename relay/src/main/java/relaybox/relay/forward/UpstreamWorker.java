package relaybox.relay.forward;

import org.slf4j.MDC;
import relaybox.queue.QueueEntry;
import relaybox.relay.log.MailLog;

import java.time.Duration;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Owns one worker thread of one upstream and the session it keeps: it takes entries the
 * {@link Dispatcher} handed to the upstream, opens a session when it has none (or the old one
 * is retired), waits for the upstream's rate limit, sends, and has the attempt recorded. While
 * idle it NOOPs the session every {@code forward_noop_interval} and QUITs it after
 * {@code forward_idle_timeout}. A session that cannot be opened marks the upstream down and
 * gives the entry back untouched. It never leases and never classifies replies.
 */
final class UpstreamWorker implements Runnable {

    private final Dispatcher d;
    private final Upstream u;
    /** Where {@link Upstream#submit} puts an entry for this worker while it is idle. */
    private final LinkedBlockingQueue<QueueEntry> slot = new LinkedBlockingQueue<>();
    /** The next entry, taken from the backlog while the last one was sent; maybe sent ahead. */
    private QueueEntry carried;

    UpstreamWorker(Dispatcher d, Upstream u) {
        this.d = d;
        this.u = u;
    }

    void give(QueueEntry e) {
        slot.add(e);
    }

    @Override
    public void run() {
        UpstreamSession session = null;
        long idleSince = System.nanoTime();
        long lastNoop = idleSince;
        // Short slices keep close() prompt; an idle worker wakes ten times a second, which costs nothing.
        long slice = Math.max(10, Math.min(100, Math.min(d.cfg.noopInterval().toMillis(), d.cfg.idleTimeout().toMillis())));
        try {
            while (d.running()) {
                QueueEntry e = carried != null ? carried : u.next(this);
                carried = null;
                if (e == null) {
                    e = slot.poll(slice, TimeUnit.MILLISECONDS);
                }
                long now = System.nanoTime();
                if (e == null) {
                    if (session != null && now - idleSince >= d.cfg.idleTimeout().toNanos()) {
                        session.close();
                        session = null;
                    } else if (session != null && now - lastNoop >= d.cfg.noopInterval().toNanos()) {
                        lastNoop = now;
                        if (!session.keepAlive()) {
                            session.close();
                            session = null;
                        }
                    }
                    continue;
                }
                MDC.put("queueId", e.id().toString());
                try {
                    session = deliver(e, session);
                } catch (RuntimeException | Error x) {
                    d.bug(e.id().toString(), x);
                    d.giveBack(e);
                    if (session != null) {
                        session.close();
                        session = null;
                    }
                } finally {
                    d.released();
                    MDC.remove("queueId");
                }
                idleSince = System.nanoTime();
                lastNoop = idleSince;
            }
        } catch (InterruptedException ie) {
            // Shutting down.
        } finally {
            if (session != null) {
                session.close();
            }
            u.leave(this);
            if (carried != null) {
                d.giveBack(carried);
            }
            for (QueueEntry left; (left = slot.poll()) != null; ) {
                d.giveBack(left);
            }
        }
    }

    /** Sends one leased entry through {@code u}; returns the session to keep (or null). */
    private UpstreamSession deliver(QueueEntry e, UpstreamSession session) throws InterruptedException {
        if (session != null && session.sentAhead() != null && !session.sentAhead().equals(e.id())) {
            // Not the entry whose commands went ahead (the entry sent ahead is always the one
            // carried to this turn, so this is a bug guard): the upstream waits for other data,
            // so this connection is done.
            session.close();
            session = null;
        }
        if (!u.isUp() || !d.running()) {
            // The circuit opened while this entry waited: let the dispatcher route it again. A
            // session that sent its commands ahead cannot carry anything else.
            d.giveBack(e);
            if (session != null && session.sentAhead() != null) {
                session.close();
                return null;
            }
            return session;
        }
        try {
            u.rate.acquire();
        } catch (InterruptedException ie) {
            // Shutdown while waiting for the rate limit: nothing was sent, the entry goes back.
            d.giveBack(e);
            throw ie;
        }
        long t0 = System.nanoTime();
        double wait = Duration.between(e.nextAttemptAt(), d.clock.instant()).toMillis() / 1000.0;
        if (session != null && !session.reusable()) {
            session.close();
            session = null;
        }
        if (session == null) {
            try {
                session = d.open(u);
            } catch (SessionOpenException x) {
                d.down(u, x);
                d.giveBack(e);
                return null;
            }
        }
        long t1 = System.nanoTime();
        // With no rate limit to wait for, the next message's commands may follow this one's
        // final "." (one round trip per message instead of two); it is carried to the next turn.
        carried = u.config.ratePerSecond() <= 0 ? u.take() : null;
        Attempt a = session.send(e, () -> d.queue.openMessage(e.id()), carried);
        long t2 = System.nanoTime();
        if (session.slowDownRequested()) {
            u.rate.pause(1000);
        }
        String delays = MailLog.delays(Duration.ofNanos((long) (wait * 1e9)), Duration.ofNanos(t1 - t0),
                Duration.ofNanos(t2 - t1));
        d.count(u, e, a, d.recorder.record(e, a, delays));
        if (!session.reusable()) {
            session.close();
            return null;
        }
        return session;
    }
}
