package relaybox.relay.intake;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A disk that fills while a message arrives (there was room at MAIL) is answered 452 4.3.1, as
 * the README promises for a full queue, not 451 4.3.0: the client should try later, not report
 * a local error. The queue lives on a 16 MiB tmpfs this test mounts (root only; skipped
 * otherwise) and the message is larger than what is free.
 */
class DiskFullDuringDataTest {

    @TempDir
    Path dir;
    private Path mount;
    private boolean mounted;

    private static int run(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(20, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    @AfterEach
    void unmount() throws Exception {
        if (mounted) {
            run("umount", "-l", mount.toString());
        }
    }

    @Test
    void aDiskThatFillsDuringDataIsAnswered452() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "mounting a tmpfs needs root");
        mount = Files.createDirectory(dir.resolve("mnt"));
        assumeTrue(run("mount", "-t", "tmpfs", "-o", "size=16m,mode=0700", "tmpfs", mount.toString()) == 0,
                "cannot mount a tmpfs here");
        mounted = true;
        try (MapDbQueue queue = MapDbQueue.open(mount.resolve("queue"), 1 << 20, RetrySchedule.DEFAULT,
                Clock.systemUTC()); IntakeHarness h = new IntakeHarness(queue, ""); RawSmtp c = h.connect()) {
            c.cmd("EHLO a");
            assertTrue(c.cmd("MAIL FROM:<a@example.com>").startsWith("250"), "there is room when the message starts");
            assertTrue(c.cmd("RCPT TO:<b@example.com>").startsWith("250"));
            assertTrue(c.cmd("DATA").startsWith("354"));
            StringBuilder body = new StringBuilder("Subject: big\r\n\r\n");
            String line = "x".repeat(998) + "\r\n";
            c.send(body.toString());
            for (int i = 0; i < 20 * 1024; i++) {
                c.send(line); // 20 MiB, more than the 16 MiB filesystem holds
            }
            String r = c.cmd(".");
            assertTrue(r.startsWith("452 4.3.1"), "got " + r);
            // The partial message was discarded: a small one fits again.
            assertTrue(c.cmd("MAIL FROM:<a@example.com>").startsWith("250"));
            assertTrue(c.cmd("RCPT TO:<b@example.com>").startsWith("250"));
            assertTrue(c.cmd("DATA").startsWith("354"));
            String small = c.cmd("Subject: small\r\n\r\nhello\r\n.");
            assertTrue(small.startsWith("250"), small);
        }
    }
}
