package relaybox.relay.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.dkim.DkimAlgorithm;
import relaybox.relay.dkim.DkimKeygen;

import java.io.BufferedInputStream;
import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.CyclicBarrier;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 17: the packaged heap (-Xmx256m), DKIM on, and intake_max_connections (200, the default)
 * sessions that each send a header section of about 1 MiB, all held at once (every session sends
 * its header section, then all wait for each other, then all end their messages). No
 * OutOfMemoryError: messages beyond the header-memory budget get 452 4.3.1, the daemon keeps
 * serving, and every message that got 250 reaches the upstream. Prints the counts and the peak RSS.
 */
class HeaderFloodIT {

    private static final int SESSIONS = Integer.getInteger("headerflood.sessions", 200);
    private static final int HEADER_BYTES = 1000 << 10;

    @TempDir
    Path dir;

    @Test
    void megabyteHeaderSectionsFromEverySessionDoNotExhaustTheHeap() throws Exception {
        Path config = dir.resolve("relaybox.conf");
        DkimKeygen.Result key = DkimKeygen.generate("client.test", "s1", DkimAlgorithm.RSA_SHA256, 2048,
                dir.resolve("dkim"));
        int port = DaemonProcess.freePort();
        try (UpstreamSink sink = new UpstreamSink().start();
             DaemonProcess daemon = new DaemonProcess(config, dir.resolve("daemon.log"), port,
                     List.of("-Xmx256m", "-XX:+ExitOnOutOfMemoryError"))) {
            // Default intake settings. The [[dkim_key]] table goes last before [[upstream]].
            Files.writeString(config, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, sink.port(),
                    key.configSnippet()));
            daemon.start(Duration.ofSeconds(60));

            byte[] header = header();
            Map<String, String> replies = new ConcurrentHashMap<>();
            CyclicBarrier allHeld = new CyclicBarrier(SESSIONS);
            ExecutorService pool = Executors.newFixedThreadPool(SESSIONS);
            long t0 = System.nanoTime();
            for (int i = 0; i < SESSIONS; i++) {
                String id = "hdr-" + i;
                // Four loopback addresses: no per-client limit can spare the heap here.
                String from = "127.0.0." + (1 + i % 4);
                pool.execute(() -> replies.put(id, session(port, from, id, header, allHeld)));
            }
            pool.shutdown();
            assertTrue(pool.awaitTermination(5, TimeUnit.MINUTES));
            long seconds = (System.nanoTime() - t0) / 1_000_000_000L;
            Set<String> accepted = ConcurrentHashMap.newKeySet();
            Map<String, Integer> byReply = new java.util.TreeMap<>();
            replies.forEach((id, r) -> {
                byReply.merge(r.length() >= 9 ? r.substring(0, 9) : r, 1, Integer::sum);
                if (r.startsWith("250")) {
                    accepted.add(id);
                }
            });
            assertTrue(daemon.alive(), "daemon died:\n" + DaemonProcess.tail(daemon.currentLog(), 4000));
            // It keeps serving: an ordinary message now.
            try (SmtpSender s = new SmtpSender(port, 30_000)) {
                s.hello();
                assertTrue(s.send("after-the-flood", 1024).startsWith("250"));
            }
            accepted.add("after-the-flood");
            long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
            while (!sink.seen.keySet().containsAll(accepted) && System.nanoTime() < until) {
                Thread.sleep(100);
            }
            String log = daemon.currentLog();
            System.out.printf("HeaderFloodIT: %d sessions x %d KiB header section, DKIM rsa-2048, -Xmx256m, default "
                            + "intake_header_memory: replies %s in %d s; delivered %d of %d acknowledged; "
                            + "daemon VmHWM=%d MiB%n", SESSIONS, HEADER_BYTES >> 10, byReply, seconds,
                    accepted.stream().filter(sink.seen::containsKey).count(), accepted.size(),
                    daemon.peakRssKib() >> 10);
            assertFalse(log.contains("OutOfMemoryError"), DaemonProcess.tail(log, 4000));
            assertTrue(replies.values().stream().allMatch(r -> r.startsWith("250") || r.startsWith("452 4.3.1")),
                    "every message is accepted or refused for now: " + byReply);
            assertTrue(accepted.size() > 1, "some messages must get through: " + byReply);
            assertEquals(Set.of(), Set.copyOf(accepted.stream().filter(id -> !sink.seen.containsKey(id)).toList()),
                    "acknowledged but not delivered");
        }
    }

    private static byte[] header() {
        StringBuilder b = new StringBuilder();
        for (int i = 0; b.length() < HEADER_BYTES; i++) {
            b.append("X-Filler-").append(i).append(": ").append("y".repeat(100)).append("\r\n");
        }
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }

    /** One message with a 1 MiB header section; returns the reply to its end (or what went wrong). */
    private static String session(int port, String from, String id, byte[] header, CyclicBarrier allHeld) {
        boolean[] waited = {false};
        try (Socket s = new Socket()) {
            s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 30_000);
            s.setSoTimeout(120_000);
            InputStream in = new BufferedInputStream(s.getInputStream());
            OutputStream out = new BufferedOutputStream(s.getOutputStream(), 1 << 16);
            String r = reply(in);
            for (String cmd : List.of("EHLO flood.test", "MAIL FROM:<app@client.test>", "RCPT TO:<x@example.org>",
                    "DATA")) {
                if (!r.startsWith("2") && !r.startsWith("3")) {
                    break;
                }
                out.write((cmd + "\r\n").getBytes(StandardCharsets.US_ASCII));
                out.flush();
                r = reply(in);
            }
            if (!r.startsWith("354")) {
                waitQuietly(allHeld, waited);
                return r;
            }
            out.write(("From: app@client.test\r\nTo: x@example.org\r\nSubject: big header\r\nX-Test-Id: " + id
                    + "\r\n").getBytes(StandardCharsets.US_ASCII));
            out.write(header);
            out.flush();
            waitQuietly(allHeld, waited);
            out.write("\r\nbody\r\n.\r\n".getBytes(StandardCharsets.US_ASCII));
            out.flush();
            return reply(in);
        } catch (IOException e) {
            waitQuietly(allHeld, waited);
            return "error " + e;
        }
    }

    private static void waitQuietly(CyclicBarrier b, boolean[] waited) {
        if (waited[0]) {
            return;
        }
        waited[0] = true;
        try {
            b.await(3, TimeUnit.MINUTES);
        } catch (Exception e) {
            // a session that failed early must not hold up the others
        }
    }

    private static String reply(InputStream in) throws IOException {
        while (true) {
            StringBuilder b = new StringBuilder();
            int c;
            while ((c = in.read()) >= 0 && c != '\n') {
                b.append((char) c);
            }
            if (c < 0) {
                return "closed " + b;
            }
            String line = b.toString().trim();
            if (line.length() < 4 || line.charAt(3) != '-') {
                return line;
            }
        }
    }
}
