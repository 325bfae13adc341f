package relaybox.relay.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Memory: many concurrent sessions each sending a 25 MiB message to the real daemon started with
 * {@code -Xmx256m}. Every message must get a 250 and the daemon's log must show no
 * OutOfMemoryError: the intake streams each message to its spool file and never holds it whole.
 * Prints the daemon's peak RSS (VmHWM).
 *
 * <p>{@code largemessages.sessions} defaults to the 100 (2.5 GB written under the temp
 * directory and removed afterwards; about 10 s here). When the temp filesystem has less than
 * twice that free, the count is lowered to fit and the run says so. The upstream is down during
 * the run so that the queue holds every message at once, the worst case for the daemon.
 */
class LargeMessagesIT {

    private static final int WANTED = Integer.getInteger("largemessages.sessions", 100);
    private static final long MESSAGE = 25L << 20;
    private int sessions;

    @TempDir
    Path dir;

    @Test
    void concurrentLargeMessagesAreAllAcceptedWithACappedHeap() throws Exception {
        long usable = Files.getFileStore(dir).getUsableSpace();
        sessions = (int) Math.max(4, Math.min(WANTED, usable / (2 * MESSAGE)));
        if (sessions < WANTED) {
            System.out.printf("LargeMessagesIT: only %d MiB free under %s: %d sessions instead of %d%n",
                    usable >> 20, dir, sessions, WANTED);
        }
        Path config = dir.resolve("relaybox.conf");
        int port = DaemonProcess.freePort();
        try (UpstreamSink sink = new UpstreamSink().start();
             DaemonProcess daemon = new DaemonProcess(config, dir.resolve("daemon.log"), port,
                     List.of("-Xmx256m", "-XX:+ExitOnOutOfMemoryError"))) {
            sink.down(true);
            Files.writeString(config, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, sink.port(),
                    """
                    queue_min_free_space = "64MiB"
                    intake_max_message_size = "26MiB"
                    intake_max_connections = 400
                    intake_max_connections_per_client = 300
                    intake_data_timeout = "5m"
                    """));
            daemon.start(Duration.ofSeconds(60));
            long rssIdle = daemon.peakRssKib();

            List<String> replies = Collections.synchronizedList(new ArrayList<>());
            AtomicInteger accepted = new AtomicInteger();
            AtomicLong maxMillis = new AtomicLong();
            CountDownLatch go = new CountDownLatch(1);
            List<Thread> threads = new ArrayList<>();
            long t0 = System.nanoTime();
            for (int i = 0; i < sessions; i++) {
                String id = "big-" + i;
                Thread t = new Thread(() -> {
                    try (SmtpSender s = new SmtpSender(port, 300_000)) {
                        s.hello();
                        go.await();
                        long start = System.nanoTime();
                        String r = s.send(id, MESSAGE - 200);
                        maxMillis.accumulateAndGet((System.nanoTime() - start) / 1_000_000, Math::max);
                        replies.add(r);
                        if (r.startsWith("250")) {
                            accepted.incrementAndGet();
                        }
                    } catch (IOException | InterruptedException e) {
                        replies.add("error: " + e);
                    }
                }, "big-client-" + i);
                t.start();
                threads.add(t);
            }
            go.countDown();
            for (Thread t : threads) {
                t.join(600_000);
            }
            long seconds = Math.max(1, (System.nanoTime() - t0) / 1_000_000_000);
            long rssPeak = daemon.peakRssKib();
            String log = daemon.wholeLog();
            System.out.printf("LargeMessagesIT: sessions=%d x %d MiB accepted=%d in %d s (%.0f MiB/s, slowest %d ms) "
                            + "heap=-Xmx256m VmHWM idle=%d MiB peak=%d MiB daemon-alive=%s%n",
                    sessions, MESSAGE >> 20, accepted.get(), seconds, (double) sessions * (MESSAGE >> 20) / seconds,
                    maxMillis.get(), rssIdle >> 10, rssPeak >> 10, daemon.alive());
            assertFalse(log.contains("OutOfMemoryError"), "OutOfMemoryError in the daemon:\n"
                    + DaemonProcess.tail(log, 4000));
            assertTrue(daemon.alive(), "daemon died:\n" + DaemonProcess.tail(log, 4000));
            assertEquals(sessions, accepted.get(), "not all accepted: " + replies);
            daemon.kill();
        }
    }
}
