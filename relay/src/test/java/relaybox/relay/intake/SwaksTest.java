package relaybox.relay.intake;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * swaks, a real SMTP client, against the intake on the MapDB queue: the message must be in the
 * queue with the bytes swaks sent. Skipped only when swaks is not installed (CI installs it).
 */
class SwaksTest {

    @TempDir
    Path dir;
    private IntakeHarness h;

    @BeforeEach
    void start() throws Exception {
        assumeTrue(new File("/usr/bin/swaks").canExecute(), "swaks is not installed (apt-get install swaks)");
        MapDbQueue q = MapDbQueue.open(dir.resolve("queue"), 0, RetrySchedule.DEFAULT, Clock.systemUTC());
        h = new IntakeHarness(q, "intake_max_message_size = \"1MiB\"\n");
    }

    @AfterEach
    void stop() {
        if (h != null) {
            h.close();
        }
    }

    private String swaks(String... args) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("timeout", "30", "swaks", "--server", "127.0.0.1",
                "--port", String.valueOf(h.address().getPort()), "--helo", "swaks.test"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(40, TimeUnit.SECONDS), "swaks did not finish");
        return out;
    }

    @Test
    void plainMessageWithDotsArrivesByteForByte() throws Exception {
        Path msg = dir.resolve("msg.eml");
        String body = "From: app@example.com\r\nTo: you@example.net\r\nSubject: swaks\r\n"
                + "Date: Sun, 22 Nov 2026 10:00:00 +0000\r\nMessage-ID: <m1@example.com>\r\n\r\n"
                + ".leading dot\r\n..two\r\n" + "z".repeat(20_000) + "\r\n\u00e9t\u00e9\r\n";
        // swaks ends the data with "\r\n.\r\n" itself, so the file leaves out the last CRLF.
        Files.write(msg, body.substring(0, body.length() - 2).getBytes(StandardCharsets.UTF_8));
        String out = swaks("--from", "app@example.com", "--to", "you@example.net", "--data", "@" + msg,
                "--pipeline");
        assertTrue(out.contains("<-  250 2.0.0 Ok: queued as "), out);
        QueueEntry e = h.queue.list().get(0);
        assertEquals(body, new String(h.clientBytes(e), StandardCharsets.UTF_8));
        assertTrue(e.addedHeaders().startsWith("Received: from swaks.test ([127.0.0.1])"), e.addedHeaders());
    }

    @Test
    void tooBigIsRefusedWith552AndNothingIsQueued() throws Exception {
        Path msg = dir.resolve("big.eml");
        Files.writeString(msg, "Subject: big\r\n\r\n" + ("y".repeat(998) + "\r\n").repeat(1100));
        String out = swaks("--from", "app@example.com", "--to", "you@example.net", "--data", "@" + msg);
        assertTrue(out.contains("<** 552 5.3.4"), out);
        assertTrue(h.queue.list().isEmpty());
        // The open started a segment (zeroed ahead of its first record): nothing may be in it,
        // and no file of the refused message may be left beside it.
        try (var files = Files.list(dir.resolve("queue").resolve("spool"))) {
            for (Path p : files.toList()) {
                assertTrue(p.getFileName().toString().startsWith("seg-"), "left behind: " + p);
                byte[] bytes = Files.readAllBytes(p);
                int at = 0;
                while (at < bytes.length && bytes[at] == 0) {
                    at++;
                }
                assertEquals(bytes.length, at, p + " holds a record at " + at);
            }
        }
    }
}
