package relaybox.relay;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The durability promise under SIGKILL: a child JVM runs the real daemon while several clients
 * send; it is killed at a random moment; the queue is reopened and every message that got a 250
 * must be there with its bytes intact. Repeated several times on the same queue directory.
 * (Timing is random by design; the assertion does not depend on when the kill lands.)
 */
class CrashIT {

    static final int ROUNDS = 6;
    static final int CLIENTS = 4;

    @TempDir
    Path dir;

    @Test
    void everyAcknowledgedMessageSurvivesKillMinus9() throws Exception {
        Path queueDir = dir.resolve("queue");
        Path config = DaemonProcess.config(dir, queueDir, "");
        Map<String, byte[]> acknowledged = new ConcurrentHashMap<>();
        Random random = new Random();
        for (int round = 0; round < ROUNDS; round++) {
            int r = round;
            try (DaemonProcess d = new DaemonProcess(config)) {
                int port = d.awaitPort();
                AtomicBoolean go = new AtomicBoolean(true);
                List<Thread> clients = new ArrayList<>();
                for (int c = 0; c < CLIENTS; c++) {
                    int client = c;
                    Thread t = new Thread(() -> {
                        for (int n = 0; go.get(); n++) {
                            byte[] body = body(r, client, n, random.nextInt(40_000));
                            try {
                                String reply = SmtpSend.send(port, "a@b.example", "c@d.example", body);
                                if (reply.startsWith("250 2.0.0 Ok: queued as ")) {
                                    acknowledged.put(reply.substring(reply.lastIndexOf(' ') + 1), body);
                                }
                            } catch (IOException e) {
                                // The daemon died under us: expected; this message was never acknowledged.
                            }
                        }
                    }, "client-" + c);
                    t.start();
                    clients.add(t);
                }
                Thread.sleep(500 + random.nextInt(2000));
                d.kill();
                go.set(false);
                for (Thread t : clients) {
                    t.join(30_000);
                }
            }
            verify(queueDir, acknowledged);
        }
        System.out.println("CrashIT: " + acknowledged.size() + " acknowledged messages verified over " + ROUNDS + " kills");
        assertTrue(acknowledged.size() > ROUNDS, "too few messages acknowledged to prove anything: " + acknowledged.size());
    }

    private static void verify(Path queueDir, Map<String, byte[]> acknowledged) throws Exception {
        try (MapDbQueue q = MapDbQueue.open(queueDir, 0, RetrySchedule.DEFAULT, Clock.systemUTC())) {
            for (Map.Entry<String, byte[]> e : acknowledged.entrySet()) {
                QueueEntry entry = q.get(QueueId.parse(e.getKey())).orElse(null);
                assertTrue(entry != null, "acknowledged " + e.getKey() + " is missing after kill -9");
                byte[] all;
                try (InputStream in = q.openMessage(entry.id())) {
                    all = in.readAllBytes();
                }
                int skip = entry.addedHeaders().getBytes(StandardCharsets.UTF_8).length;
                assertArrayEquals(e.getValue(), Arrays.copyOfRange(all, skip, all.length), "bytes of " + e.getKey());
            }
        }
    }

    /** A message with a unique first line and a random-length body of CRLF lines (no leading dots). */
    static byte[] body(int round, int client, int n, int extra) {
        StringBuilder b = new StringBuilder("Subject: crash ").append(round).append('/').append(client)
                .append('/').append(n).append("\r\n\r\n");
        for (int i = 0; i < extra / 80; i++) {
            b.append("line ").append(i).append(" ").append("x".repeat(70)).append("\r\n");
        }
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }
}
