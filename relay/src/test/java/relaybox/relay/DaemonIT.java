package relaybox.relay;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The real daemon in a child JVM: serves, and on SIGTERM stops cleanly with exit 0. */
class DaemonIT {

    @TempDir
    Path dir;

    @Test
    void sigtermStopsCleanlyAndTheMessageIsInTheQueue() throws Exception {
        Path queueDir = dir.resolve("queue");
        try (DaemonProcess d = new DaemonProcess(DaemonProcess.config(dir, queueDir, ""))) {
            int port = d.awaitPort();
            String r = SmtpSend.send(port, "a@b.example", "c@d.example",
                    "Subject: it\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII));
            assertTrue(r.startsWith("250 2.0.0 Ok: queued as "), r);
            d.process.destroy(); // SIGTERM
            assertTrue(d.process.waitFor(30, TimeUnit.SECONDS));
            assertEquals(0, d.process.exitValue(), String.join("\n", d.output));
            String id = r.substring(r.lastIndexOf(' ') + 1);
            assertTrue(d.output.stream().anyMatch(l -> l.contains(id + " intake queued from=<a@b.example>")),
                    String.join("\n", d.output));
        }
        try (MapDbQueue q = MapDbQueue.open(queueDir, 0, RetrySchedule.DEFAULT, Clock.systemUTC())) {
            List<QueueEntry> all = q.list();
            assertEquals(1, all.size());
        }
    }
}
