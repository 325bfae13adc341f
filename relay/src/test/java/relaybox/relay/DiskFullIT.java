package relaybox.relay;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

import java.io.InputStream;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The queue on a small filesystem (a 24 MiB tmpfs this test mounts; needs root) fills up while
 * the real daemon runs: clients get 452 4.3.1, the daemon stays up and keeps answering, messages
 * accepted before are intact, and accepting resumes once space is freed.
 */
class DiskFullIT {

    @TempDir
    Path dir;
    private Path mount;

    @AfterEach
    void unmount() throws Exception {
        if (mount != null) {
            new ProcessBuilder("umount", "-l", mount.toString()).start().waitFor(10, TimeUnit.SECONDS);
        }
    }

    @Test
    void fullDiskGets452AndRecovers() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root");
        Path m = dir.resolve("small");
        Files.createDirectories(m);
        Process p = new ProcessBuilder("mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", m.toString())
                .redirectErrorStream(true).start();
        assumeTrue(p.waitFor(10, TimeUnit.SECONDS) && p.exitValue() == 0, "cannot mount a tmpfs here");
        mount = m;
        Path queueDir = m.resolve("queue");
        Path filler = m.resolve("filler");
        Map<String, byte[]> acknowledged = new LinkedHashMap<>();
        try (DaemonProcess d = new DaemonProcess(DaemonProcess.config(dir, queueDir,
                "queue_min_free_space = \"4MiB\"\n"))) {
            int port = d.awaitPort();
            byte[] body = message(300_000);
            String r = SmtpSend.send(port, "a@b.example", "c@d.example", body);
            assertTrue(r.startsWith("250 "), r);
            acknowledged.put(r.substring(r.lastIndexOf(' ') + 1), body);
            // Eat most of the space, then send until the guard refuses.
            try (OutputStream out = Files.newOutputStream(filler)) {
                byte[] mb = new byte[1 << 20];
                long free = Files.getFileStore(m).getUsableSpace();
                for (long i = 0; i < (free >> 20) - 6; i++) {
                    out.write(mb);
                }
            }
            String refused = null;
            for (int i = 0; i < 40 && refused == null; i++) {
                byte[] b = message(300_000 + i);
                r = SmtpSend.send(port, "a@b.example", "c@d.example", b);
                if (r.startsWith("250 ")) {
                    acknowledged.put(r.substring(r.lastIndexOf(' ') + 1), b);
                } else {
                    refused = r;
                }
            }
            assertTrue(refused != null && refused.startsWith("452 4.3.1"), "got " + refused);
            assertTrue(d.process.isAlive(), "the daemon must keep running");
            // Still answering, still refusing politely.
            r = SmtpSend.send(port, "a@b.example", "c@d.example", message(1000));
            assertTrue(r.startsWith("452 4.3.1") || r.startsWith("250 "), r);
            if (r.startsWith("250 ")) {
                acknowledged.put(r.substring(r.lastIndexOf(' ') + 1), message(1000));
            }
            Files.delete(filler);
            byte[] after = message(200_000);
            r = SmtpSend.send(port, "a@b.example", "c@d.example", after);
            assertTrue(r.startsWith("250 "), "accepting must resume when space returns: " + r);
            acknowledged.put(r.substring(r.lastIndexOf(' ') + 1), after);
            d.process.destroy();
            assertTrue(d.process.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, d.process.exitValue(), String.join("\n", d.output));
        }
        try (MapDbQueue q = MapDbQueue.open(queueDir, 0, RetrySchedule.DEFAULT, Clock.systemUTC())) {
            assertEquals(acknowledged.size(), q.list().size());
            for (Map.Entry<String, byte[]> e : acknowledged.entrySet()) {
                QueueEntry entry = q.get(QueueId.parse(e.getKey())).orElseThrow();
                try (InputStream in = q.openMessage(entry.id())) {
                    byte[] all = in.readAllBytes();
                    int skip = entry.addedHeaders().getBytes(StandardCharsets.UTF_8).length;
                    assertArrayEquals(e.getValue(), Arrays.copyOfRange(all, skip, all.length));
                }
            }
        }
    }

    static byte[] message(int size) {
        StringBuilder b = new StringBuilder("Subject: full ").append(size).append("\r\n\r\n");
        while (b.length() < size) {
            b.append("y".repeat(78)).append("\r\n");
        }
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }
}
