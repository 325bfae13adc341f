package relaybox.relay.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Connection floods against the real daemon: {@code flood.idle} (1,000) connections that say
 * nothing after the greeting, from ten loopback addresses (127.0.1.1-10, so the per-client limit
 * applies to each), plus {@code flood.slowloris} (50) clients from 127.0.2.x that send one byte
 * per second and never finish a command. Meanwhile a normal client on 127.0.0.1 sends mail: each
 * of its transactions (connect to 250) must take under a second (median of five). Prints what the
 * flood clients got (greetings, 421s) and the limits in force.
 */
class ConnectionFloodIT {

    private static final int IDLE = Integer.getInteger("flood.idle", 1000);
    private static final int SLOWLORIS = Integer.getInteger("flood.slowloris", 50);
    private static final int MAX_CONNECTIONS = 1200;
    private static final int PER_CLIENT = 100;

    @TempDir
    Path dir;

    @Test
    void idleAndSlowlorisFloodsDoNotKeepANormalClientOut() throws Exception {
        Path config = dir.resolve("relaybox.conf");
        int port = DaemonProcess.freePort();
        List<Socket> flood = new ArrayList<>();
        try (UpstreamSink sink = new UpstreamSink().start();
             DaemonProcess daemon = new DaemonProcess(config, dir.resolve("daemon.log"), port,
                     List.of("-Xmx256m", "-XX:+UseSerialGC"))) {
            Files.writeString(config, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, sink.port(),
                    "intake_max_connections = " + MAX_CONNECTIONS + "\n"
                            + "intake_max_connections_per_client = " + PER_CLIENT + "\n"
                            + "intake_command_timeout = \"5m\"\nintake_data_timeout = \"10m\"\n"));
            daemon.start(Duration.ofSeconds(60));

            // Opened from 16 threads: one at a time takes minutes on a loaded machine.
            Map<String, Integer> idleGot = new java.util.concurrent.ConcurrentSkipListMap<>();
            List<Socket> idle = java.util.Collections.synchronizedList(new ArrayList<>());
            java.util.concurrent.ExecutorService pool = java.util.concurrent.Executors.newFixedThreadPool(16);
            for (int i = 0; i < IDLE; i++) {
                String from = "127.0.1." + (1 + i % 10);
                pool.execute(() -> idleGot.merge(open(idle, from, port), 1, Integer::sum));
            }
            pool.shutdown();
            assertTrue(pool.awaitTermination(5, java.util.concurrent.TimeUnit.MINUTES));
            flood.addAll(idle);
            Map<String, Integer> slowGot = new TreeMap<>();
            List<Socket> slow = new ArrayList<>();
            for (int i = 0; i < SLOWLORIS; i++) {
                slowGot.merge(open(slow, "127.0.2." + (1 + i % 50), port), 1, Integer::sum);
            }
            flood.addAll(slow);
            byte[] drip = "EHLO slow.example.com\r\nMAIL FROM:<slow@slow.example.com>\r\nRCPT TO:<x@example.org>\r\n"
                    .replace("\r\n", "").getBytes(StandardCharsets.US_ASCII);   // never a complete line
            Thread dripper = new Thread(() -> {
                for (int b = 0; !Thread.currentThread().isInterrupted(); b = (b + 1) % drip.length) {
                    for (Socket s : slow) {
                        try {
                            s.getOutputStream().write(drip[b]);
                        } catch (IOException ignored) {
                            // closed by the daemon
                        }
                    }
                    try {
                        Thread.sleep(1000);
                    } catch (InterruptedException e) {
                        return;
                    }
                }
            }, "slowloris");
            dripper.setDaemon(true);
            dripper.start();

            long[] millis = new long[5];
            List<String> replies = new ArrayList<>();
            for (int i = 0; i < millis.length; i++) {
                long t0 = System.nanoTime();
                try (SmtpSender s = new SmtpSender(port, 10_000)) {
                    String greeting = s.hello();
                    String r = greeting.startsWith("220") ? s.send("normal-" + i, 1024) : greeting;
                    replies.add(r);
                }
                millis[i] = (System.nanoTime() - t0) / 1_000_000;
            }
            dripper.interrupt();
            long open = flood.stream().filter(s -> !s.isClosed() && stillOpen(s)).count();
            long[] sorted = millis.clone();
            Arrays.sort(sorted);
            System.out.printf("ConnectionFloodIT: idle=%d got %s; slowloris=%d got %s; still open after the run=%d; "
                            + "normal client (connect to 250) ms=%s; limits intake_max_connections=%d "
                            + "intake_max_connections_per_client=%d intake_command_timeout=5m intake_data_timeout=10m; "
                            + "daemon VmHWM=%d MiB%n", IDLE, idleGot, SLOWLORIS, slowGot, open,
                    Arrays.toString(millis), MAX_CONNECTIONS, PER_CLIENT, daemon.peakRssKib() >> 10);
            assertTrue(replies.stream().allMatch(r -> r.startsWith("250")), replies.toString());
            assertTrue(sorted[sorted.length / 2] < 1000, "normal client too slow under the flood: "
                    + Arrays.toString(millis));
            assertTrue(daemon.alive());
        } finally {
            for (Socket s : flood) {
                s.close();
            }
        }
    }

    /** Connects from {@code from} and reads the greeting; returns "220", "421" or what happened. */
    private static String open(List<Socket> keep, String from, int port) {
        Socket s = new Socket();
        try {
            s.bind(new InetSocketAddress(InetAddress.getByName(from), 0));
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), port), 5000);
            s.setSoTimeout(5000);
            keep.add(s);
            String line = readLine(s.getInputStream());
            return line == null ? "closed" : line.length() >= 3 ? line.substring(0, 3) : line;
        } catch (SocketTimeoutException e) {
            return "no greeting in 5 s";
        } catch (IOException e) {
            return "error " + e.getClass().getSimpleName();
        }
    }

    private static boolean stillOpen(Socket s) {
        try {
            s.setSoTimeout(1);
            return s.getInputStream().read() != -1 || false;
        } catch (SocketTimeoutException e) {
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    private static String readLine(InputStream in) throws IOException {
        StringBuilder b = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0 && c != '\n') {
            b.append((char) c);
        }
        return c < 0 && b.length() == 0 ? null : b.toString().trim();
    }
}
