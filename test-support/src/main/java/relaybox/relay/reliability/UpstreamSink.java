package relaybox.relay.reliability;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.Map;
import java.util.Queue;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The one SMTP sink of the tests and the benchmark: a plain-text upstream on a loopback port that
 * answers 250 to every message and counts. The reliability tests count, per test id (the
 * {@code X-Test-Id:} header), how often a message reached it; the benchmark ({@link #main}) writes
 * its counters and the arrival time of each {@code X-Bench-Id:} message to files. A message counts
 * only once its 250 was written, so an id seen twice is a true duplicate from the relay's view.
 *
 * <p>A copy is <em>confirmed</em> once the relay sends the next message's first body line, or RSET,
 * NOOP or QUIT, on that connection: by then it has read the 250 (the next message's MAIL and RCPT
 * may go ahead of it, its body cannot), and relaybox records an outcome before it sends anything
 * more than those commands. A copy of a message whose earlier copy was confirmed is therefore the relay's fault
 * ({@link #duplicatesAfterConfirmation}); a copy whose earlier copy was never confirmed was in
 * flight at a kill, the inherent window of every store-and-forward relay.
 *
 * <p>{@link #stallNext} makes the next message wait after its final "." before the 250: the
 * moment between the upstream having the message and the relay recording it, where a kill makes
 * the only kind of duplicate the relay allows.
 *
 * <p>{@link #copies} lists every copy of an X-Test-Id message with its connection and the moment
 * its "." was read, so a crash test can tell which kill cut each duplicate off and how long the
 * relay took from the "." to recording the outcome.
 *
 * <p>It must not be the bottleneck of a benchmark: lines are cut from its own buffer (not
 * byte-wise reads from a locked stream), and pipelined replies go out in one write once the client
 * has nothing more buffered. It uses the JDK only: the bench scripts compile it with javac alone
 * ({@code -sourcepath test-support/src/main/java} brings in its helpers).
 *
 * <p>This class owns the counters, the listening socket and the stall; one connection's
 * dialogue and its part of the bookkeeping are {@link SinkSession}, the benchmark process
 * {@link SinkBenchmark}.
 */
public final class UpstreamSink implements AutoCloseable {

    public final Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
    public final AtomicInteger messages = new AtomicInteger();
    public final AtomicInteger stalls = new AtomicInteger();
    /** Ids with a copy the relay went on from (it read that copy's 250). */
    public final Set<String> confirmed = ConcurrentHashMap.newKeySet();
    /** Copies that arrived although an earlier copy had been confirmed. */
    public final AtomicInteger duplicatesAfterConfirmation = new AtomicInteger();
    /** The ids of those copies, so a failing crash test can show their way through the daemon's log. */
    public final Set<String> idsAfterConfirmation = ConcurrentHashMap.newKeySet();
    /**
     * One copy of an X-Test-Id message: the connection it came on ({@code connection}, counted from
     * 1, accepted at {@code connectedNanos}), when its "." was read ({@code dotNanos}, and as
     * wall-clock {@code dotMillis} to compare with a log's timestamps) and whether it was the
     * stalled one ({@link #stallNext}).
     */
    public record Copy(String id, long connection, long connectedNanos, long dotNanos, long dotMillis,
                       boolean stalled) { }

    /** Every copy of an X-Test-Id message; the benchmark's messages carry none, so this stays small. */
    public final Queue<Copy> copies = new ConcurrentLinkedQueue<>();
    /** Connections accepted, and body bytes (line ends counted as CRLF) of the messages taken. */
    public final AtomicLong connections = new AtomicLong();
    public final AtomicLong bytes = new AtomicLong();

    /** "id epoch-nanos" lines for X-Bench-Id messages not yet taken by {@link #takeArrivals}. */
    private final StringBuilder arrivals = new StringBuilder();
    private final AtomicReference<Stall> stall = new AtomicReference<>();
    private final Set<Socket> open = ConcurrentHashMap.newKeySet();
    private volatile ServerSocket server;
    private volatile int port;
    private volatile boolean down;

    record Stall(CountDownLatch reached, long millis) { }

    /** Starts on a free loopback port. */
    public UpstreamSink start() throws IOException {
        return start(0);
    }

    /** Starts (again) on {@code wanted}; 0 for a free one. */
    public UpstreamSink start(int wanted) throws IOException {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), wanted), 1024);
        port = s.getLocalPort();
        server = s;
        Thread t = new Thread(() -> acceptLoop(s), "upstream-sink");
        t.setDaemon(true);
        t.start();
        return this;
    }

    public int port() {
        return port;
    }

    /** While down, connections are accepted and answered with 421 (the upstream is unavailable). */
    public void down(boolean d) {
        down = d;
    }

    /**
     * An outage at the TCP level: stops listening and drops every open connection (counters keep
     * their values). {@link #start(int)} with {@link #port()} ends it.
     */
    public void stop() {
        try {
            server.close();
        } catch (IOException ignored) {
            // closing anyway
        }
        for (Socket s : open) {
            closeQuietly(s);
        }
    }

    /**
     * Arms a stall: the next message to complete waits {@code millis} after its "." before the 250.
     * The returned latch opens when a message reaches the stall.
     */
    public CountDownLatch stallNext(long millis) {
        Stall s = new Stall(new CountDownLatch(1), millis);
        stall.set(s);
        return s.reached;
    }

    public int distinct() {
        return seen.size();
    }

    public int duplicates() {
        return seen.values().stream().mapToInt(n -> n.get() - 1).sum();
    }

    /** The arrival lines gathered since the last call, and forgets them. */
    public String takeArrivals() {
        synchronized (arrivals) {
            String s = arrivals.toString();
            arrivals.setLength(0);
            return s;
        }
    }

    /** Notes a bench id's arrival (epoch nanos) for {@link #takeArrivals}. */
    void arrived(String benchId, long ns) {
        synchronized (arrivals) {
            arrivals.append(benchId).append(' ').append(ns).append('\n');
        }
    }

    /** The armed stall, disarmed: only one message waits in it. */
    Stall takeStall() {
        return stall.getAndSet(null);
    }

    boolean isDown() {
        return down;
    }

    private void acceptLoop(ServerSocket s) {
        while (!s.isClosed()) {
            try {
                Socket c = s.accept();
                long connectedNanos = System.nanoTime();
                c.setTcpNoDelay(true);
                long serial = connections.incrementAndGet();
                open.add(c);
                Thread t = new Thread(() -> serve(c, serial, connectedNanos), "upstream-sink-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s, long serial, long connectedNanos) {
        try (s) {
            new SinkSession(this, serial, connectedNanos).serve(s);
        } catch (IOException | InterruptedException e) {
            // the relay went away (killed): nothing is recorded for the message in flight
        } finally {
            open.remove(s);
        }
    }

    @Override
    public void close() {
        stop();
    }

    public static boolean await(CountDownLatch l, long millis) throws InterruptedException {
        return l.await(millis, TimeUnit.MILLISECONDS);
    }

    private static void closeQuietly(Socket s) {
        try {
            s.close();
        } catch (IOException ignored) {
            // already gone
        }
    }

    /**
     * The benchmark's upstream ({@link SinkBenchmark}).
     * Usage: UpstreamSink PORT STATUS_FILE [ARRIVALS_FILE [DOWN_FILE]]
     */
    public static void main(String[] a) throws Exception {
        SinkBenchmark.run(a);
    }
}
