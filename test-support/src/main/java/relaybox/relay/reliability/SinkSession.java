package relaybox.relay.reliability;

import java.io.IOException;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * One connection to an {@link UpstreamSink}: its SMTP dialogue (250 to every message, pipelined
 * replies in one write) and its part of the sink's bookkeeping: the copy it took last and not yet
 * saw confirmed, when the relay confirms it, and each copy's arrival, stall and counts.
 */
final class SinkSession {

    private static final String TEST_ID = "X-Test-Id: ";
    private static final String BENCH_ID = "X-Bench-Id: ";

    private final UpstreamSink sink;
    private final long serial;
    private final long connectedNanos;

    SinkSession(UpstreamSink sink, long serial, long connectedNanos) {
        this.sink = sink;
        this.serial = serial;
        this.connectedNanos = connectedNanos;
    }

    /** Answers {@code s} until QUIT or the end of the stream; the caller closes it. */
    void serve(Socket s) throws IOException, InterruptedException {
        SinkLineReader in = new SinkLineReader(s.getInputStream());
        OutputStream out = s.getOutputStream();
        StringBuilder replies = new StringBuilder();
        if (sink.isDown()) {
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
                sink.confirmed.add(unconfirmed);
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
                        sink.confirmed.add(before);
                    }
                });
                long dotNanos = System.nanoTime();
                long dotMillis = System.currentTimeMillis();
                // Judged now, when the relay has sent this copy, not after a stall: a copy held
                // 3 s here was sent before the restarted relay resent and confirmed it.
                boolean afterConfirmation = id != null && sink.confirmed.contains(id);
                UpstreamSink.Stall st = sink.takeStall();
                if (id != null) {
                    sink.copies.add(new UpstreamSink.Copy(id, serial, connectedNanos, dotNanos, dotMillis, st != null));
                }
                if (st != null) {
                    sink.stalls.incrementAndGet();
                    st.reached().countDown();
                    Thread.sleep(st.millis());
                }
                // Sent with the replies to what the client pipelined after the "." (below).
                replies.append("250 2.0.0 Ok: queued\r\n");
                sink.messages.incrementAndGet();
                if (id != null) {
                    if (afterConfirmation) {
                        sink.duplicatesAfterConfirmation.incrementAndGet();
                        sink.idsAfterConfirmation.add(id);
                    }
                    sink.seen.computeIfAbsent(id, k -> new AtomicInteger()).incrementAndGet();
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
    }

    /**
     * Reads DATA up to the final ".", counts its bytes, notes a bench id's arrival and returns the
     * X-Test-Id found in the header section; {@code firstLine} runs once the first line has arrived.
     */
    private String readData(SinkLineReader in, Runnable firstLine) throws IOException {
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
            sink.arrived(benchId, ns);
        }
        sink.bytes.addAndGet(n);
        return testId;
    }

    private static void flush(OutputStream out, StringBuilder replies) throws IOException {
        if (replies.length() > 0) {
            out.write(replies.toString().getBytes(StandardCharsets.US_ASCII));
            out.flush();
            replies.setLength(0);
        }
    }
}
