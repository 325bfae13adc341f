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
 * {@code forward_idle_timeout}. A session that cannot be opened is reported (the upstream goes
 * down, slows down or pauses) and the entry goes back untouched; so does an entry whose attempt
 * met a pause and had nothing delivered or failed, so a quota never costs an attempt. While the
 * upstream's throttle stands this worker down ({@link Upstream#mayWork}) it closes its session
 * and takes no work. It never leases and never classifies replies; it sees the rest of the
 * forwarder only through {@link WorkerServices}.
 *
 * <p>Per-sender logins: the session is authenticated as one {@link Login} and carries only that
 * login's entries (and sends ahead only those); an entry of another login closes it and opens
 * one of its own. A login whose AUTH is refused (or whose token cannot be had) defers only its
 * own mail, as a configuration error logged once: the upstream's circuit stays closed for the
 * other senders. A sender with no login at all (no login names it, no default) is deferred the
 * same way without a connection.
 */
final class UpstreamWorker implements Runnable {

    private final WorkerServices d;
    private final Upstream u;
    /** This worker's number within its upstream: the throttle's session cap counts from 0. */
    private final int index;
    /** Where {@link Upstream#submit} puts an entry for this worker while it is idle. */
    private final LinkedBlockingQueue<QueueEntry> slot = new LinkedBlockingQueue<>();
    /** The next entry, taken from the backlog while the last one was sent; maybe sent ahead. */
    private QueueEntry carried;
    /** The login of the session this worker holds, or null without one; read by {@link Upstream}'s hand-off. */
    private volatile Login login;
    private static final FailurePolicy NO_RULES = new FailurePolicy(java.util.List.of());

    UpstreamWorker(WorkerServices d, Upstream u, int index) {
        this.d = d;
        this.u = u;
        this.index = index;
    }

    int index() {
        return index;
    }

    Login login() {
        return login;
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
        long slice = Math.max(10, Math.min(100, Math.min(d.config().noopInterval().toMillis(), d.config().idleTimeout().toMillis())));
        try {
            while (d.running()) {
                boolean may = u.mayWork(index, d.clock().instant());
                if (!may && carried == null && session != null) {
                    // Throttled to fewer sessions: this one goes, so the upstream counts fewer.
                    session.close();
                    session = null;
                    login = null;
                }
                QueueEntry e = carried != null ? carried : may ? u.next(this) : null;
                carried = null;
                if (e == null) {
                    e = slot.poll(slice, TimeUnit.MILLISECONDS);
                }
                long now = System.nanoTime();
                if (e == null) {
                    if (session != null && now - idleSince >= d.config().idleTimeout().toNanos()) {
                        session.close();
                        session = null;
                        login = null;
                    } else if (session != null && now - lastNoop >= d.config().noopInterval().toNanos()) {
                        lastNoop = now;
                        if (!session.keepAlive()) {
                            session.close();
                            session = null;
                            login = null;
                        }
                    }
                    continue;
                }
                MDC.put("queueId", e.id().toString());
                try {
                    session = deliver(e, session);
                    if (session == null) {
                        login = null;
                    }
                } catch (RuntimeException | Error x) {
                    d.bug(e.id().toString(), x);
                    d.giveBack(e);
                    if (session != null) {
                        session.close();
                        session = null;
                    }
                    login = null;
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
        if (!u.takesMail() || !d.running()) {
            // The circuit opened (or a pause began) while this entry waited: let the dispatcher
            // route it again. A
            // session that sent its commands ahead cannot carry anything else.
            d.giveBack(e);
            if (session != null && session.sentAhead() != null) {
                session.close();
                return null;
            }
            return session;
        }
        Login want = u.loginFor(e);
        if (want.equals(Login.NONE)) {
            // Sending it under any login would be sending it as someone else.
            deferAll(e, Login.NONE, NO_RULES.configProblem(Stage.AUTH, "no [[upstream.login]] of upstream " + u.name()
                    + " names this sender, and the upstream has no auth_file of its own").outcome());
            return session;
        }
        if (session != null && !want.equals(login)) {
            // A session of another login: never carries this entry. (An entry sent ahead is
            // always of the session's login, so nothing waits for data on it.)
            session.close();
            session = null;
            login = null;
        }
        try {
            u.rate.acquire();
        } catch (InterruptedException ie) {
            // Shutdown while waiting for the rate limit: nothing was sent, the entry goes back.
            d.giveBack(e);
            throw ie;
        }
        long t0 = System.nanoTime();
        double wait = Duration.between(e.nextAttemptAt(), d.clock().instant()).toMillis() / 1000.0;
        if (session != null && !session.reusable()) {
            session.close();
            session = null;
        }
        if (session == null) {
            try {
                session = d.open(u, want);
                login = want;
                u.loginWorks(want);
            } catch (SessionOpenException x) {
                if (!want.equals(Login.DEFAULT) && x.decision().configError()) {
                    // This login's secrets are refused: its own mail waits; the link is up for the others.
                    deferAll(e, want, x.decision().outcome());
                    return null;
                }
                d.cannotOpen(u, x);
                d.giveBack(e);
                return null;
            }
        }
        long t1 = System.nanoTime();
        // With no rate limit to wait for, the next message's commands may follow this one's
        // final "." (one round trip per message instead of two); it is carried to the next turn.
        carried = u.config.ratePerSecond() <= 0 ? u.take(want) : null;
        Attempt a = session.send(e, () -> d.openMessage(e), carried);
        long t2 = System.nanoTime();
        FailurePolicy.Decision signal = session.upstreamSignal();
        if (signal != null) {
            // Before the entry goes back, so that routing already skips a paused upstream.
            d.signal(u, signal);
        }
        if (signal != null && signal.effect().pauses() && nothingFinal(a)) {
            // A quota or a sender block says nothing about the message: no attempt is spent.
            d.giveBack(e);
        } else {
            String delays = MailLog.delays(Duration.ofNanos((long) (wait * 1e9)), Duration.ofNanos(t1 - t0),
                    Duration.ofNanos(t2 - t1));
            d.record(u, e, a, delays);
        }
        if (!session.reusable()) {
            session.close();
            return null;
        }
        return session;
    }

    /**
     * Records {@code o} (a configuration problem of {@code which} login) for every pending
     * recipient of {@code e}: deferred, an attempt spent, so it waits by the queue's backoff.
     * The problem is logged at ERROR once per login and reason.
     */
    private void deferAll(QueueEntry e, Login which, Outcome o) {
        if (u.loginFails(which, o.reply())) {
            org.slf4j.LoggerFactory.getLogger(UpstreamWorker.class).error("upstream {}: configuration or account"
                    + " problem of {}: its senders' mail is deferred (retried by the queue's backoff) until it is"
                    + " fixed: {}", u.name(), which, o.reply());
        }
        java.util.Map<String, Outcome> out = new java.util.LinkedHashMap<>();
        e.pendingRecipients().forEach(r -> out.put(r, o));
        Attempt a = new Attempt(out, u.config.host() + ":" + u.config.port());
        d.record(u, e, a, "-");
    }

    /** True when no recipient of {@code a} was delivered or failed: the attempt decided nothing. */
    private static boolean nothingFinal(Attempt a) {
        return a.outcomes().values().stream().noneMatch(o -> o.kind() == Outcome.Kind.DELIVERED
                || o.kind() == Outcome.Kind.PERMANENT);
    }
}
