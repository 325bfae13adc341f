package relaybox.relay.reliability;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
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
 * has nothing more buffered. It uses the JDK only, so bench/run.sh compiles this one file.
 */
public final class UpstreamSink implements AutoCloseable {

    private static final String TEST_ID = "X-Test-Id: ";
    private static final String BENCH_ID = "X-Bench-Id: ";

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

    private record Stall(CountDownLatch reached, long millis) { }

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
            LineReader in = new LineReader(s.getInputStream());
            OutputStream out = s.getOutputStream();
            StringBuilder replies = new StringBuilder();
            if (down) {
                replies.append("421 4.3.2 sink down\r\n");
                flush(out, replies);
                return;
            }
            replies.append("220 sink ESMTP\r\n");
            flush(out, replies);
            boolean haveRcpt = false;
            String unconfirmed = null;
            while (true) {
                String line = in.readLine();
                if (line == null) {
                    return;
                }
                String up = line.toUpperCase(java.util.Locale.ROOT);
                if (unconfirmed != null && (up.equals("RSET") || up.equals("NOOP") || up.equals("QUIT"))) {
                    confirmed.add(unconfirmed);
                    unconfirmed = null;
                }
                if (up.startsWith("EHLO")) {
                    replies.append("250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n")
                            .append("250 SIZE 209715200\r\n");
                } else if (up.startsWith("MAIL")) {
                    haveRcpt = false;
                    replies.append("250 2.1.0 Ok\r\n");
                } else if (up.startsWith("RCPT")) {
                    haveRcpt = true;
                    replies.append("250 2.1.5 Ok\r\n");
                } else if (up.equals("DATA")) {
                    if (!haveRcpt) {
                        replies.append("554 5.5.1 no recipients\r\n");
                        flush(out, replies);
                        continue;
                    }
                    replies.append("354 go\r\n");
                    flush(out, replies);
                    String before = unconfirmed;
                    unconfirmed = null;
                    String id = readData(in, () -> {
                        if (before != null) {
                            confirmed.add(before);
                        }
                    });
                    long dotNanos = System.nanoTime();
                    long dotMillis = System.currentTimeMillis();
                    // Judged now, when the relay has sent this copy, not after a stall: a copy held
                    // 3 s here was sent before the restarted relay resent and confirmed it.
                    boolean afterConfirmation = id != null && confirmed.contains(id);
                    Stall st = stall.getAndSet(null);
                    if (id != null) {
                        copies.add(new Copy(id, serial, connectedNanos, dotNanos, dotMillis, st != null));
                    }
                    if (st != null) {
                        stalls.incrementAndGet();
                        st.reached.countDown();
                        Thread.sleep(st.millis);
                    }
                    // Sent with the replies to what the client pipelined after the "." (below).
                    replies.append("250 2.0.0 Ok: queued\r\n");
                    messages.incrementAndGet();
                    if (id != null) {
                        if (afterConfirmation) {
                            duplicatesAfterConfirmation.incrementAndGet();
                            idsAfterConfirmation.add(id);
                        }
                        seen.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
                        unconfirmed = id;
                    }
                    haveRcpt = false;
                } else if (up.equals("QUIT")) {
                    replies.append("221 2.0.0 Bye\r\n");
                    flush(out, replies);
                    return;
                } else if (up.equals("RSET") || up.equals("NOOP")) {
                    replies.append("250 2.0.0 Ok\r\n");
                } else {
                    replies.append("502 5.5.2 not here\r\n");
                }
                // Pipelining: answer when the client has nothing more buffered.
                if (in.available() == 0) {
                    flush(out, replies);
                }
            }
        } catch (IOException | InterruptedException e) {
            // the relay went away (killed): nothing is recorded for the message in flight
        } finally {
            open.remove(s);
        }
    }

    /**
     * Reads DATA up to the final ".", counts its bytes, notes a bench id's arrival and returns the
     * X-Test-Id found in the header section; {@code firstLine} runs once the first line has arrived.
     */
    private String readData(LineReader in, Runnable firstLine) throws IOException {
        boolean inHeader = true;
        boolean first = true;
        long n = 0;
        String testId = null;
        String benchId = null;
        while (true) {
            String line = in.readLine();
            if (line == null) {
                throw new IOException("closed in DATA");
            }
            if (first) {
                first = false;
                firstLine.run();
            }
            if (line.equals(".")) {
                break;
            }
            n += line.length() + 2;
            if (inHeader) {
                if (line.isEmpty()) {
                    inHeader = false;
                } else if (testId == null && line.startsWith(TEST_ID)) {
                    testId = line.substring(TEST_ID.length()).trim();
                } else if (benchId == null && line.startsWith(BENCH_ID)) {
                    benchId = line.substring(BENCH_ID.length()).trim();
                }
            }
        }
        if (benchId != null) {
            Instant now = Instant.now();
            long ns = now.getEpochSecond() * 1_000_000_000L + now.getNano();
            synchronized (arrivals) {
                arrivals.append(benchId).append(' ').append(ns).append('\n');
            }
        }
        bytes.addAndGet(n);
        return testId;
    }

    private static void flush(OutputStream out, StringBuilder replies) throws IOException {
        if (replies.length() > 0) {
            out.write(replies.toString().getBytes(StandardCharsets.US_ASCII));
            out.flush();
            replies.setLength(0);
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
     * The benchmark's upstream (bench/run.sh). Every 100 ms it writes "messages connections bytes"
     * to STATUS_FILE (renamed into place, so a reader never sees half a file) and appends
     * "id arrival-epoch-nanos" lines to ARRIVALS_FILE for X-Bench-Id messages (the latency client
     * writes the matching 250 times). While DOWN_FILE exists the sink is down: connections are
     * refused and open ones closed, and counters keep their values.
     * Usage: UpstreamSink PORT STATUS_FILE [ARRIVALS_FILE [DOWN_FILE]]
     */
    public static void main(String[] a) throws Exception {
        int port = Integer.parseInt(a[0]);
        Path status = Path.of(a[1]);
        Path arrivalsFile = a.length > 2 ? Path.of(a[2]) : null;
        Path downFile = a.length > 3 ? Path.of(a[3]) : null;
        UpstreamSink sink = new UpstreamSink().start(port);
        boolean listening = true;
        long nextStatus = 0;
        while (true) {
            boolean wantDown = downFile != null && Files.exists(downFile);
            if (wantDown) {
                // Again each round: a connection accepted just as the outage began is dropped too.
                sink.stop();
                listening = false;
            } else if (!wantDown && !listening) {
                sink.start(port);
                listening = true;
            }
            if (System.nanoTime() >= nextStatus) {
                nextStatus = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
                Path next = status.resolveSibling(status.getFileName() + ".new");
                Files.writeString(next,
                        sink.messages.get() + " " + sink.connections.get() + " " + sink.bytes.get() + "\n");
                Files.move(next, status, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                String got = sink.takeArrivals();
                if (arrivalsFile != null && !got.isEmpty()) {
                    Files.writeString(arrivalsFile, got, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                }
            }
            Thread.sleep(10);
        }
    }

    /**
     * Lines from a socket through its own buffer. BufferedInputStream.read() takes a lock per
     * byte: for a 4 KiB message that was most of the sink's CPU, taken from the two cores the
     * relay under test runs on (a real ESP's CPU is not on the relay's machine).
     */
    private static final class LineReader {
        private final InputStream in;
        private final byte[] buf = new byte[65536];
        private int pos;
        private int end;

        LineReader(InputStream in) {
            this.in = in;
        }

        /** Bytes buffered here or readable without blocking. */
        int available() throws IOException {
            return end - pos > 0 ? end - pos : in.available();
        }

        /** One line without its CRLF (or LF), or null at the end of the stream. */
        String readLine() throws IOException {
            StringBuilder partial = null;
            while (true) {
                for (int i = pos; i < end; i++) {
                    if (buf[i] == '\n') {
                        int stop = i > pos && buf[i - 1] == '\r' ? i - 1 : i;
                        String piece = new String(buf, pos, stop - pos, StandardCharsets.ISO_8859_1);
                        pos = i + 1;
                        if (partial == null) {
                            return piece;
                        }
                        partial.append(piece);
                        int len = partial.length();
                        if (stop == i && len > 0 && partial.charAt(len - 1) == '\r') {
                            partial.setLength(len - 1);
                        }
                        return partial.toString();
                    }
                }
                if (end > pos) {
                    if (partial == null) {
                        partial = new StringBuilder();
                    }
                    partial.append(new String(buf, pos, end - pos, StandardCharsets.ISO_8859_1));
                }
                pos = 0;
                end = in.read(buf, 0, buf.length);
                if (end < 0) {
                    end = 0;
                    return partial == null || partial.length() == 0 ? null : partial.toString();
                }
            }
        }
    }
}
