package relaybox.relay.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The real daemon in a child JVM: serves, logs the message's "queued" line, and on SIGTERM stops
 * cleanly (the JVM reports 143, 128 + SIGTERM, after the shutdown hook ran) with the message
 * still queued, because its upstream never answered.
 */
class DaemonIT {

    @TempDir
    Path dir;

    @Test
    void sigtermStopsCleanlyAndTheMessageStaysQueued() throws Exception {
        Path queueDir = dir.resolve("queue");
        int port = DaemonProcess.freePort();
        int deadUpstream = DaemonProcess.freePort();
        Path conf = dir.resolve("relaybox.conf");
        Files.writeString(conf, DaemonProcess.baseConfig(dir, queueDir, port, deadUpstream, ""));
        String reply;
        try (DaemonProcess d = new DaemonProcess(conf, dir.resolve("daemon.log"), port, List.of())) {
            d.start(Duration.ofSeconds(60));
            try (SmtpSender s = new SmtpSender(port, 10_000)) {
                s.hello();
                reply = s.send("daemon-it-1", 200);
            }
            assertTrue(reply.startsWith("250 2.0.0 Ok: queued as "), reply);
            int code = d.stop(Duration.ofSeconds(30));
            assertTrue(code == 0 || code == 143, "exit code after SIGTERM: " + code);
            String id = reply.substring(reply.lastIndexOf(' ') + 1);
            String log = d.wholeLog();
            assertTrue(log.contains(id + " intake queued from=<app@client.test>"), log);
            assertTrue(log.contains("queue closed: "), "the queue was closed cleanly:\n" + log);
        }
        try (MapDbQueue q = MapDbQueue.open(queueDir, 0, RetrySchedule.DEFAULT, Clock.systemUTC())) {
            List<QueueEntry> all = q.list();
            assertEquals(1, all.size());
            assertTrue(q.quarantinedAtOpen().isEmpty());
        }
    }
}
