import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketTimeoutException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Benchmark upstream: a minimal SMTP sink for loopback benchmarks. Accepts any number of
 * pipelined transactions per connection, answers 250 to everything, counts messages and
 * connections, and for messages carrying "X-Bench-Id: <n>" appends "n arrival-epoch-nanos" to the
 * arrivals file (the latency client writes the matching 250 times). Every 100 ms it writes
 * "messages connections bytes" to the status file. While DOWN_FILE exists the sink is down:
 * connections are refused and open ones closed, and counters keep their values.
 * Usage: java Sink.java PORT STATUS_FILE [ARRIVALS_FILE [DOWN_FILE]]
 */
public class Sink {
    static final AtomicLong messages = new AtomicLong();
    static final AtomicLong connections = new AtomicLong();
    static final AtomicLong bytes = new AtomicLong();
    static final StringBuffer latencies = new StringBuffer();
    static final Set<Socket> open = ConcurrentHashMap.newKeySet();

    public static void main(String[] a) throws Exception {
        int port = Integer.parseInt(a[0]);
        Path status = Path.of(a[1]);
        Path latency = a.length > 2 ? Path.of(a[2]) : null;
        Thread w = new Thread(() -> {
            while (true) {
                try {
                    Thread.sleep(100);
                    // Renamed into place: run.sh reads it meanwhile, and a truncated file read as 0
                    // once made a drain look finished before it began.
                    Path next = status.resolveSibling(status.getFileName() + ".new");
                    Files.writeString(next, messages.get() + " " + connections.get() + " " + bytes.get() + "\n");
                    Files.move(next, status, java.nio.file.StandardCopyOption.REPLACE_EXISTING,
                            java.nio.file.StandardCopyOption.ATOMIC_MOVE);
                    if (latency != null && latencies.length() > 0) {
                        String s;
                        synchronized (latencies) {
                            s = latencies.toString();
                            latencies.setLength(0);
                        }
                        Files.writeString(latency, s, java.nio.file.StandardOpenOption.CREATE,
                                java.nio.file.StandardOpenOption.APPEND);
                    }
                } catch (Exception e) {
                    return;
                }
            }
        });
        w.setDaemon(true);
        w.start();
        Path down = a.length > 3 ? Path.of(a[3]) : null;
        while (true) {
            if (down != null && Files.exists(down)) {
                // An outage: connections refused, open ones dropped, until the file goes away.
                for (Socket c : open) {
                    c.close();
                }
                Thread.sleep(10);
                continue;
            }
            try (ServerSocket ss = new ServerSocket()) {
                ss.setReuseAddress(true);
                ss.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 1024);
                ss.setSoTimeout(10);
                while (down == null || !Files.exists(down)) {
                    Socket s;
                    try {
                        s = ss.accept();
                    } catch (SocketTimeoutException e) {
                        continue;
                    }
                    connections.incrementAndGet();
                    open.add(s);
                    Thread t = new Thread(() -> {
                        serve(s);
                        open.remove(s);
                    });
                    t.setDaemon(true);
                    t.start();
                }
            }
        }
    }

    static void serve(Socket s) {
        try (s) {
            s.setTcpNoDelay(true);
            LineReader in = new LineReader(s.getInputStream());
            OutputStream out = s.getOutputStream();
            out.write("220 sink ESMTP\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            StringBuilder replies = new StringBuilder();
            while (true) {
                String line = readLine(in);
                if (line == null) {
                    return;
                }
                String u = line.toUpperCase();
                if (u.startsWith("EHLO")) {
                    replies.append("250-sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-SMTPUTF8\r\n250 SIZE 209715200\r\n");
                } else if (u.startsWith("DATA")) {
                    replies.append("354 go\r\n");
                    flush(out, replies);
                    long n = 0;
                    String id = null;
                    boolean header = true;
                    while (true) {
                        String l = readLine(in);
                        if (l == null) {
                            return;
                        }
                        if (l.equals(".")) {
                            break;
                        }
                        n += l.length() + 2;
                        if (header) {
                            if (l.isEmpty()) {
                                header = false;
                            } else if (l.startsWith("X-Bench-Id: ")) {
                                id = l.substring(12).trim();
                            }
                        }
                    }
                    if (id != null) {
                        Instant now = Instant.now();
                        long ns = now.getEpochSecond() * 1_000_000_000L + now.getNano();
                        synchronized (latencies) {
                            latencies.append(id).append(' ').append(ns).append('\n');
                        }
                    }
                    bytes.addAndGet(n);
                    messages.incrementAndGet();
                    replies.append("250 2.0.0 Ok: queued\r\n");
                } else if (u.startsWith("QUIT")) {
                    replies.append("221 bye\r\n");
                    flush(out, replies);
                    return;
                } else {
                    replies.append("250 ok\r\n");
                }
                // Pipelining: answer when the client has nothing more buffered.
                if (in.available() == 0) {
                    flush(out, replies);
                }
            }
        } catch (IOException e) {
            // connection gone
        }
    }

    static void flush(OutputStream out, StringBuilder replies) throws IOException {
        if (replies.length() > 0) {
            out.write(replies.toString().getBytes(StandardCharsets.US_ASCII));
            out.flush();
            replies.setLength(0);
        }
    }

    static String readLine(LineReader in) throws IOException {
        return in.readLine();
    }

    /**
     * Lines from a socket through its own buffer. BufferedInputStream.read() takes a lock per
     * byte: for a 4 KiB message that was most of the sink's CPU, taken from the two cores the
     * relay under test runs on (a real ESP's CPU is not on the relay's machine).
     */
    static final class LineReader {
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
