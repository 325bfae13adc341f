package relaybox.relay.reliability;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The upstream of the reliability tests: a plain-text SMTP server on a loopback port that counts,
 * per test id (the {@code X-Test-Id:} header), how often a message reached it. A message counts
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
 */
final class UpstreamSink implements AutoCloseable {

    private static final Pattern ID = Pattern.compile("(?m)^X-Test-Id: (\\S+)\r?$");

    final Map<String, AtomicInteger> seen = new ConcurrentHashMap<>();
    final AtomicInteger messages = new AtomicInteger();
    final AtomicInteger stalls = new AtomicInteger();
    /** Ids with a copy the relay went on from (it read that copy's 250). */
    final Set<String> confirmed = ConcurrentHashMap.newKeySet();
    /** Copies that arrived although an earlier copy had been confirmed. */
    final AtomicInteger duplicatesAfterConfirmation = new AtomicInteger();

    private final AtomicReference<Stall> stall = new AtomicReference<>();
    private final List<Socket> open = Collections.synchronizedList(new ArrayList<>());
    private volatile ServerSocket server;
    private volatile boolean down;

    private record Stall(CountDownLatch reached, long millis) { }

    UpstreamSink start() throws IOException {
        ServerSocket s = new ServerSocket();
        s.setReuseAddress(true);
        s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 200);
        server = s;
        Thread t = new Thread(this::acceptLoop, "upstream-sink");
        t.setDaemon(true);
        t.start();
        return this;
    }

    int port() {
        return server.getLocalPort();
    }

    /** While down, connections are accepted and answered with 421 (the upstream is unavailable). */
    void down(boolean d) {
        down = d;
    }

    /**
     * Arms a stall: the next message to complete waits {@code millis} after its "." before the 250.
     * The returned latch opens when a message reaches the stall.
     */
    CountDownLatch stallNext(long millis) {
        Stall s = new Stall(new CountDownLatch(1), millis);
        stall.set(s);
        return s.reached;
    }

    int distinct() {
        return seen.size();
    }

    int duplicates() {
        return seen.values().stream().mapToInt(n -> n.get() - 1).sum();
    }

    private void acceptLoop() {
        ServerSocket s = server;
        while (!s.isClosed()) {
            try {
                Socket c = s.accept();
                c.setTcpNoDelay(true);
                open.add(c);
                Thread t = new Thread(() -> serve(c), "upstream-sink-conn");
                t.setDaemon(true);
                t.start();
            } catch (IOException e) {
                return;
            }
        }
    }

    private void serve(Socket s) {
        try (s) {
            InputStream in = new BufferedInputStream(s.getInputStream(), 65536);
            OutputStream out = s.getOutputStream();
            if (down) {
                send(out, "421 4.3.2 sink down");
                return;
            }
            send(out, "220 sink ESMTP");
            boolean haveRcpt = false;
            String unconfirmed = null;
            while (true) {
                String line = readLine(in);
                if (line == null) {
                    return;
                }
                String up = line.toUpperCase(java.util.Locale.ROOT);
                if (unconfirmed != null && (up.equals("RSET") || up.equals("NOOP") || up.equals("QUIT"))) {
                    confirmed.add(unconfirmed);
                    unconfirmed = null;
                }
                if (up.startsWith("EHLO")) {
                    send(out, "250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 104857600");
                } else if (up.startsWith("MAIL")) {
                    haveRcpt = false;
                    send(out, "250 2.1.0 Ok");
                } else if (up.startsWith("RCPT")) {
                    haveRcpt = true;
                    send(out, "250 2.1.5 Ok");
                } else if (up.equals("DATA")) {
                    if (!haveRcpt) {
                        send(out, "554 5.5.1 no recipients");
                        continue;
                    }
                    send(out, "354 go");
                    String before = unconfirmed;
                    unconfirmed = null;
                    String id = readData(in, () -> {
                        if (before != null) {
                            confirmed.add(before);
                        }
                    });
                    // Judged now, when the relay has sent this copy, not after a stall: a copy held
                    // 3 s here was sent before the restarted relay resent and confirmed it.
                    boolean afterConfirmation = id != null && confirmed.contains(id);
                    Stall st = stall.getAndSet(null);
                    if (st != null) {
                        stalls.incrementAndGet();
                        st.reached.countDown();
                        Thread.sleep(st.millis);
                    }
                    send(out, "250 2.0.0 Ok: queued");
                    messages.incrementAndGet();
                    if (id != null) {
                        if (afterConfirmation) {
                            duplicatesAfterConfirmation.incrementAndGet();
                        }
                        seen.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
                        unconfirmed = id;
                    }
                    haveRcpt = false;
                } else if (up.equals("QUIT")) {
                    send(out, "221 2.0.0 Bye");
                    return;
                } else if (up.equals("RSET") || up.equals("NOOP")) {
                    send(out, "250 2.0.0 Ok");
                } else {
                    send(out, "502 5.5.2 not here");
                }
            }
        } catch (IOException | InterruptedException e) {
            // the relay went away (killed): nothing is recorded for the message in flight
        } finally {
            open.remove(s);
        }
    }

    /**
     * Reads DATA up to the final ".", returns the X-Test-Id found in the header section;
     * {@code firstLine} runs once the first line has arrived.
     */
    private static String readData(InputStream in, Runnable firstLine) throws IOException {
        ByteArrayOutputStream head = new ByteArrayOutputStream();
        boolean inHeader = true;
        boolean first = true;
        while (true) {
            String line = readLine(in);
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
            if (inHeader) {
                if (line.isEmpty()) {
                    inHeader = false;
                } else if (head.size() < 65536) {
                    head.writeBytes((line + "\r\n").getBytes(StandardCharsets.ISO_8859_1));
                }
            }
        }
        Matcher m = ID.matcher(head.toString(StandardCharsets.ISO_8859_1));
        return m.find() ? m.group(1) : null;
    }

    /** One line without its CRLF; long lines are read whole. Null at end of stream. */
    private static String readLine(InputStream in) throws IOException {
        ByteArrayOutputStream b = new ByteArrayOutputStream(128);
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                byte[] a = b.toByteArray();
                int n = a.length > 0 && a[a.length - 1] == '\r' ? a.length - 1 : a.length;
                return new String(a, 0, n, StandardCharsets.ISO_8859_1);
            }
            b.write(c);
        }
        return null;
    }

    private static void send(OutputStream out, String line) throws IOException {
        out.write((line + "\r\n").getBytes(StandardCharsets.US_ASCII));
        out.flush();
    }

    @Override
    public void close() throws IOException {
        server.close();
        synchronized (open) {
            for (Socket s : open) {
                try {
                    s.close();
                } catch (IOException ignored) {
                    // closing anyway
                }
            }
        }
    }

    static boolean await(CountDownLatch l, long millis) throws InterruptedException {
        return l.await(millis, TimeUnit.MILLISECONDS);
    }
}
