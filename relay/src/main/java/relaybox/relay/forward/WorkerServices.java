package relaybox.relay.forward;

import relaybox.queue.QueueEntry;
import relaybox.relay.config.ForwardConfig;

import java.io.IOException;
import java.io.InputStream;
import java.time.Clock;

/**
 * What an {@link UpstreamWorker} may ask of the rest of the forwarder, and nothing more: the
 * settings and the clock, opening a session, reading a queued message, recording an attempt or
 * giving an entry back, and reporting what it met about the upstream (to the {@link LinkMonitor}).
 * {@link DispatchServices} implements it for the {@link Dispatcher}; the worker sees none of the
 * dispatcher's fields.
 */
interface WorkerServices {

    ForwardConfig config();

    Clock clock();

    /** False once the dispatcher is stopping: take no new work. */
    boolean running();

    /** A new session to {@code u} (counted when metrics are collected). */
    UpstreamSession open(Upstream u) throws SessionOpenException;

    /** A new session to {@code u} authenticated as {@code login} (a per-sender login, or the default). */
    UpstreamSession open(Upstream u, Login login) throws SessionOpenException;

    /** The queued message of {@code e}, as queued. */
    InputStream openMessage(QueueEntry e) throws IOException;

    /** Has {@code a} recorded for {@code e} (mail log, queue, DSN, metrics). */
    void record(Upstream u, QueueEntry e, Attempt a, String delays);

    /** Gives {@code e} back to the queue untouched: no attempt spent. */
    void giveBack(QueueEntry e);

    /** The worker is done with an entry (recorded or given back): one more may be leased. */
    void released();

    /** A session to {@code u} could not be opened. */
    void cannotOpen(Upstream u, SessionOpenException x);

    /** A reply asked something of {@code u} as a whole: slow down, or pause. */
    void signal(Upstream u, FailurePolicy.Decision d);

    /** An unexpected exception on a worker thread. */
    void bug(String where, Throwable t);
}
