package relaybox.relay.forward;

import relaybox.queue.QueueEntry;
import relaybox.relay.config.UpstreamConfig;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Locale;

/**
 * One configured upstream at run time: its settings, its circuit (up or down), its rate limit
 * and the hand-off queue from the dispatcher to its workers. It opens sessions but does not
 * decide which message goes where (the dispatcher does) nor how to talk (the session does).
 *
 * <p>Hand-off: an entry goes to the most recently idle worker, whose session is most likely
 * still open, so light traffic stays on one connection instead of rotating over all of them
 * (more messages per connection, fewer handshakes). With every worker busy it waits in a backlog.
 *
 * <p>Per-sender logins: each entry's {@link Login} ({@link SenderLogins}) is a key of the
 * hand-off. An entry goes first to an idle worker whose session is authenticated as its login,
 * else to one without a session, else to the coldest; a worker takes from the backlog first what
 * its session's login carries. The worker itself never sends an entry on a session of another
 * login ({@link UpstreamWorker}), so one sender's mail never goes out under another's login.
 *
 * <p>The circuit is a single flag: {@link #failed} and {@link #markUp} return true only on a
 * change, so an outage is noticed and logged once, not once per message. Apart from the circuit an
 * upstream may be paused ({@link Pause}), and slowed down after throttling ({@link Throttle}):
 * worker {@code i} takes mail only while {@code i} is below the throttle's session cap.
 * Thread safe.
 */
final class Upstream {

    final UpstreamConfig config;
    final TokenBucket rate;
    /** Which login carries which sender's mail. */
    final SenderLogins logins;
    /** Idle workers, most recently idle first: its session is the warmest. */
    private final Deque<UpstreamWorker> idle = new ArrayDeque<>();
    /** Entries handed over while every worker was busy. */
    private final ArrayDeque<QueueEntry> backlog = new ArrayDeque<>();
    /** How often the backlog's head was passed over for an entry of a busy worker's login. */
    private int headSkips;
    private final Forwarder forwarder;
    private boolean down;
    private String downReason = "";
    /** When the circuit last opened or closed: what status shows as "since". */
    private java.time.Instant since = java.time.Instant.EPOCH;
    /** Configuration-class failures in a row (AUTH, certificate, STARTTLS); 0 after a link failure. */
    private int configFailures;
    /** When the prober may try again ({@link ProbeSchedule}). */
    private java.time.Instant nextProbe = java.time.Instant.EPOCH;
    /** The secrets file's stamp at the last failure: a change clears the backoff. */
    private Object secretsStamp;
    /** The pause in force, or null. */
    private Pause pause;
    /** Sessions allowed at once after throttling replies. */
    final Throttle throttle;

    /** What a failure changed: the circuit opened; the reason text differs from the last one. */
    record Failure(boolean wentDown, boolean reasonChanged, java.time.Duration nextIn) { }

    Upstream(UpstreamConfig config, Forwarder forwarder) {
        this.config = config;
        this.forwarder = forwarder;
        this.rate = new TokenBucket(config.ratePerSecond());
        this.logins = new SenderLogins(config);
        this.throttle = new Throttle(config.maxConnections());
    }

    /** The last configuration problem of each login (its AUTH refused), so it is logged once. */
    private final java.util.Map<Login, String> loginProblems = new java.util.concurrent.ConcurrentHashMap<>();

    /** {@code l} failed for {@code reason}: true when that is news (not the problem logged last). */
    boolean loginFails(Login l, String reason) {
        return !reason.equals(loginProblems.put(l, reason));
    }

    /** A session of {@code l} opened: a later problem is news again. */
    void loginWorks(Login l) {
        if (!loginProblems.isEmpty()) {
            loginProblems.remove(l);
        }
    }

    /** The login that carries {@code e} (by the client's envelope sender). */
    Login loginFor(QueueEntry e) {
        return logins.pick(e.envelope().sender());
    }

    /**
     * A session or probe could not be opened: opens the circuit (if closed), records the reason
     * and schedules the next probe by {@link ProbeSchedule}.
     */
    synchronized Failure failed(String reason, boolean configError, java.time.Instant now,
                                java.time.Duration interval, Object secrets) {
        boolean wentDown = !down;
        boolean changed = wentDown || !reason.equals(downReason);
        if (wentDown) {
            since = now;
        }
        down = true;
        downReason = reason;
        configFailures = configError ? configFailures + 1 : 0;
        secretsStamp = secrets;
        java.time.Duration wait = ProbeSchedule.next(interval, configFailures);
        nextProbe = now.plus(wait);
        return new Failure(wentDown, changed, wait);
    }

    /** True when the prober may try this down upstream now. */
    synchronized boolean probeDue(java.time.Instant now) {
        return down && !now.isBefore(nextProbe);
    }

    /** An operator acted (or the secrets changed): the next probe goes now, the backoff starts over. */
    synchronized boolean clearBackoff(java.time.Instant now) {
        boolean was = configFailures > 0;
        configFailures = 0;
        nextProbe = now;
        return was;
    }

    /** True when {@code stamp} differs from the secrets file's stamp at the last failure. */
    synchronized boolean secretsChanged(Object stamp) {
        return down && configFailures > 0 && !java.util.Objects.equals(stamp, secretsStamp);
    }

    synchronized LinkView view() {
        return new LinkView(name(), !down, since, down ? downReason : "", configFailures, down ? nextProbe : null,
                pause);
    }

    /** The secrets file's stamp now (null without one). */
    Object secretsStamp() {
        return forwarder.secretsStamp();
    }

    String name() {
        return config.name();
    }

    /**
     * Hands {@code e} to an idle worker that may work now (the warmest of {@code e}'s login, see
     * {@link #idleFor}), or to the backlog. A worker the throttle has stood down leaves the idle
     * list here; it comes back through {@link #next} once it may work again.
     */
    synchronized void submit(QueueEntry e, java.time.Instant now) {
        int cap = throttle.cap(now);
        idle.removeIf(w -> w.index() >= cap);
        if (!idle.isEmpty()) {
            idleFor(loginFor(e)).give(e);
            return;
        }
        backlog.add(e);
    }

    /** True when worker {@code index} may carry mail at {@code now} (the throttle's cap). */
    boolean mayWork(int index, java.time.Instant now) {
        return index < throttle.cap(now);
    }

    /**
     * The idle worker for an entry of {@code login}: the warmest whose session is that login's,
     * else the warmest without a session, else the coldest (its session is the one to give up).
     * Removed from the idle list.
     */
    private UpstreamWorker idleFor(Login login) {
        UpstreamWorker pick = null;
        for (UpstreamWorker w : idle) {
            if (login.equals(w.login())) {
                pick = w;
                break;
            }
        }
        if (pick == null) {
            pick = idle.stream().filter(w -> w.login() == null).findFirst().orElse(idle.peekLast());
        }
        idle.remove(pick);
        return pick;
    }

    /**
     * The first backlog entry of {@code login}, removed; null when there is none, or when the
     * backlog's head (of another login) was passed over {@link Dispatcher#AHEAD_PER_SESSION}
     * times already: it is then due whatever its login, so one busy login cannot hold back the
     * others' mail for ever.
     */
    private QueueEntry pollFor(Login login) {
        if (config.logins().isEmpty()) {
            return backlog.poll(); // one login: every entry is the default's
        }
        QueueEntry head = backlog.peek();
        if (head == null || login.equals(loginFor(head))) {
            headSkips = 0;
            return backlog.poll();
        }
        if (headSkips >= Dispatcher.AHEAD_PER_SESSION) {
            return null;
        }
        for (java.util.Iterator<QueueEntry> it = backlog.iterator(); it.hasNext(); ) {
            QueueEntry e = it.next();
            if (login.equals(loginFor(e))) {
                it.remove();
                headSkips++;
                return e;
            }
        }
        return null;
    }

    /**
     * The next backlog entry for {@code w} (one its session's login carries, if any is waiting),
     * or null after registering {@code w} as idle.
     */
    synchronized QueueEntry next(UpstreamWorker w) {
        QueueEntry e = w.login() == null ? null : pollFor(w.login());
        if (e == null) {
            e = backlog.poll();
            headSkips = 0;
        }
        if (e == null && !idle.contains(w)) {
            idle.addFirst(w);
        }
        return e;
    }

    /**
     * The next backlog entry of {@code login} (to be sent ahead on a session of that login), or
     * null; unlike {@link #next} it does not register anyone as idle.
     */
    synchronized QueueEntry take(Login login) {
        return pollFor(login);
    }

    /** {@code w} stops taking work (shutdown). */
    synchronized void leave(UpstreamWorker w) {
        idle.remove(w);
    }

    /** Takes every entry still waiting in the backlog (shutdown). */
    synchronized List<QueueEntry> drainBacklog() {
        List<QueueEntry> out = new ArrayList<>(backlog);
        backlog.clear();
        return out;
    }

    Forwarder forwarder() {
        return forwarder;
    }

    UpstreamSession open() throws SessionOpenException {
        return forwarder.open();
    }

    /** A session authenticated as {@code login}. */
    UpstreamSession open(Login login) throws SessionOpenException {
        return forwarder.open(SessionTrace.NONE, login);
    }

    synchronized boolean isUp() {
        return !down;
    }

    /** True when mail may be routed here: the circuit is closed and no pause is in force. */
    synchronized boolean takesMail() {
        return !down && pause == null;
    }

    synchronized Pause pause() {
        return pause;
    }

    /** Puts {@code p} in force (replacing any other); returns the one it replaced, or null. */
    synchronized Pause pause(Pause p) {
        Pause old = pause;
        pause = p;
        return old;
    }

    synchronized String downReason() {
        return downReason;
    }

    /** Why no mail goes here now: the pause, or the reason it is down. */
    synchronized String unavailableReason() {
        return pause != null ? "upstream " + name() + " is paused (" + pause.describe() + ")"
                : "upstream " + name() + " is down: " + downReason;
    }

    /** Closes the circuit. True if it was open. */
    synchronized boolean markUp(java.time.Instant now) {
        boolean changed = down;
        down = false;
        configFailures = 0;
        if (changed) {
            since = now;
        }
        return changed;
    }

    /** True if mail from {@code senderDomain} is routed here by {@code sender_domains}. */
    boolean routes(String senderDomain) {
        return config.senderDomains().contains(senderDomain.toLowerCase(Locale.ROOT));
    }

    boolean isDefaultRoute() {
        return config.senderDomains().isEmpty();
    }

    /** How many workers (and so connections) this upstream gets. */
    int workers(int concurrency) {
        return Math.min(config.maxConnections(), concurrency);
    }
}
