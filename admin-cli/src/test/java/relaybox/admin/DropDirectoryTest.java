package relaybox.admin;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * sendmail while the daemon is down: the message goes durably into the drop directory, and the
 * daemon queues it when it starts, exactly once. Also: a half-written file (writer killed) is
 * never taken in, another user cannot read, replace or delete a dropped file, 1,000 files
 * dropped while the daemon is down all arrive, an invalid file is moved aside with a DSN, and a
 * full drop directory is exit 75 with a clear message.
 */
class DropDirectoryTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;
    MtaHost host;

    @BeforeEach
    void setUp() throws Exception {
        host = new MtaHost(tmp);
    }

    @AfterEach
    void tearDown() throws Exception {
        host.close();
    }

    private List<Path> files(Path dir, String glob) throws Exception {
        List<Path> out = new ArrayList<>();
        if (!Files.isDirectory(dir)) {
            return out;
        }
        try (var s = Files.newDirectoryStream(dir, glob)) {
            s.forEach(out::add);
        }
        return out;
    }

    private static long withSubject(List<String> msgs, String subject) {
        return msgs.stream().filter(m -> m.contains("\r\nSubject: " + subject + "\r\n")).count();
    }

    @Test
    void withTheDaemonUpSendmailWritesToTheDropDirectoryAndTheDaemonQueuesItAtOnce() throws Exception {
        // A minute between scans: only the watch on the directory can find the files in time.
        Files.writeString(host.conf, Files.readString(host.conf)
                .replace("drop_poll_interval = \"200ms\"", "drop_poll_interval = \"1m\""));
        host.start();
        for (int i = 0; i < 3; i++) {
            MtaHost.Result r = host.sendmail("Subject: up " + i + "\n\nbody\n", "-i", "-v", "up@y.example");
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.err().contains("written to " + host.drop), r.err());
        }
        host.awaitDelivered(3, Duration.ofSeconds(30));
        Thread.sleep(500); // a second copy would show now
        List<String> got = host.delivered();
        assertEquals(3, got.size(), got.toString());
        for (int i = 0; i < 3; i++) {
            assertEquals(1, withSubject(got, "up " + i), got.toString());
        }
        assertTrue(got.get(0).contains("Received: by relay.test (relaybox, from userid 0)\r\n"), got.get(0));
        assertEquals(List.of(), files(host.drop, "m.*"));
    }

    @Test
    void mailSentWhileTheDaemonIsDownArrivesOnceAfterItStarts() throws Exception {
        MtaHost.Result cron = host.sendmail("From: root (Cron Daemon)\nTo: root\nSubject: down 1\n\nout\n",
                "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root");
        assertEquals(0, cron.code(), cron.toString());
        assertEquals("", cron.err(), "quiet without -v");
        MtaHost.Result t = host.sendmail("To: a@x.example, root\nSubject: down 2\n\nbody\n", "-t", "-i", "-v");
        assertEquals(0, t.code(), t.toString());
        assertTrue(t.err().contains("written to " + host.drop) && t.err().contains("the daemon queues it from there"),
                t.err());
        assertEquals(2, files(host.drop, "m.*").size());
        assertEquals(List.of(), files(host.drop, "t.*"), "no temporary file is left");
        MtaHost.Result q = host.sendmail("", "-bp");
        assertTrue(q.out().contains("2 messages written by sendmail to the drop directory, not yet queued by the daemon"), q.toString());

        host.start();
        List<String> got = host.awaitDelivered(2, Duration.ofSeconds(30));
        Thread.sleep(1000); // several pickup scans: a second copy would show now
        got = host.delivered();
        assertEquals(2, got.size(), got.toString());
        assertEquals(1, withSubject(got, "down 1"));
        assertEquals(1, withSubject(got, "down 2"));
        String one = got.stream().filter(m -> m.contains("Subject: down 1")).findFirst().orElseThrow();
        assertTrue(one.startsWith("Return-Path: <root@host.example>\r\nX-Relaybox-To: <admin@corp.example>\r\n"
                + "Received: by relay.test (relaybox, from userid 0)\r\n"), one);
        assertTrue(one.endsWith("\r\nFrom: root@host.example (Cron Daemon)\r\nTo: root@host.example\r\n"
                + "Subject: down 1\r\n\r\nout\r\n"), one);
        String two = got.stream().filter(m -> m.contains("Subject: down 2")).findFirst().orElseThrow();
        assertTrue(two.contains("X-Relaybox-To: <a@x.example>, <admin@corp.example>\r\n"), two);
        assertEquals(List.of(), files(host.drop, "m.*"));
        assertEquals(List.of(), files(host.drop.resolve(".taken"), "*"));
        assertTrue(host.currentLog().contains(" pickup queued from=<root@host.example> nrcpt=1"), host.currentLog());
    }

    @Test
    void mailqAsksTheDaemonOfItsConfigFile() throws Exception {
        // The wrapper passes --config: the control socket is the test's, not /run/relaybox's.
        host.start();
        MtaHost.Result q = host.sendmail("", "-bp");
        assertEquals(0, q.code(), q.toString());
        assertEquals("", q.err(), q.toString());
        assertTrue(q.out().startsWith("no entries: the queue is empty") || q.out().startsWith("ID "), q.toString());
    }

    @Test
    void sendmailBsWithTheDaemonDownKeepsTheMessageAndAnswersEveryCommand() throws Exception {
        MtaHost.Result r = host.sendmail("EHLO pipe\r\nMAIL FROM:<root>\r\nRCPT TO:<root>\r\nDATA\r\n"
                + "Subject: bs down\r\n\r\n..dot\r\n.\r\nNOOP\r\n", "-bs");
        assertEquals(0, r.code(), r.toString());
        List<String> codes = r.out().lines().filter(l -> l.length() >= 4 && l.charAt(3) == ' ')
                .map(l -> l.substring(0, 3)).toList();
        assertEquals(List.of("220", "250", "250", "250", "354", "250", "250"), codes, r.out());
        assertEquals(1, files(host.drop, "m.*").size());
        host.start();
        String eml = host.awaitDelivered(1, Duration.ofSeconds(30)).get(0);
        assertTrue(eml.startsWith("Return-Path: <root@host.example>\r\nX-Relaybox-To: <admin@corp.example>\r\n"), eml);
        assertTrue(eml.endsWith("\r\nSubject: bs down\r\n\r\n.dot\r\n"), eml);
    }

    @Test
    void aThousandFilesDroppedWhileTheDaemonIsDownAllArrive() throws Exception {
        int n = 1000;
        for (int i = 0; i < n; i++) {
            try (DropWriter w = DropWriter.open(host.drop, "app@x.example", List.of("to" + i + "@y.example"), false)) {
                w.line("Subject: bulk " + i);
                w.line("");
                w.line("message " + i);
                w.commit();
            }
        }
        // And two through the real sendmail, for good measure.
        for (int i = n; i < n + 2; i++) {
            assertEquals(0, host.sendmail("Subject: bulk " + i + "\n\nx\n", "to" + i + "@y.example").code());
        }
        assertEquals(n + 2, files(host.drop, "m.*").size());
        host.start();
        List<String> got = host.awaitDelivered(n + 2, Duration.ofSeconds(240));
        Thread.sleep(1000); // several pickup scans: a second copy would show now
        got = host.delivered();
        Map<String, Integer> bySubject = new HashMap<>();
        for (String m : got) {
            int s = m.indexOf("\r\nSubject: bulk ");
            bySubject.merge(m.substring(s + 2, m.indexOf("\r\n", s + 2)), 1, Integer::sum);
        }
        assertEquals(n + 2, bySubject.size());
        assertTrue(bySubject.values().stream().allMatch(c -> c == 1), "duplicates: " + bySubject);
        assertEquals(List.of(), files(host.drop, "m.*"));
    }

    @Test
    void aHalfWrittenFileIsNeverTakenIn() throws Exception {
        Process p = new ProcessBuilder(host.sendmail.toString(), "-i", "half@y.example").start();
        OutputStream in = p.getOutputStream();
        in.write("Subject: half\n\n".getBytes(StandardCharsets.US_ASCII));
        in.write("x".repeat(200_000).getBytes(StandardCharsets.US_ASCII));
        in.flush();
        MtaHost.await("the temporary drop file", Duration.ofSeconds(30), () -> {
            try {
                return !files(host.drop, "t.*").isEmpty();
            } catch (Exception e) {
                return false;
            }
        });
        // The writer dies half-way (kill -9 of the JVM: the wrapper execs it).
        p.destroyForcibly().waitFor();
        assertEquals(1, files(host.drop, "t.*").size());
        assertEquals(List.of(), files(host.drop, "m.*"));
        host.start();
        assertEquals(0, host.sendmail("Subject: after\n\nx\n", "after@y.example").code());
        host.awaitDelivered(1, Duration.ofSeconds(30));
        Thread.sleep(1000); // several pickup scans: the half-written file would be taken by now
        List<String> got = host.delivered();
        assertEquals(1, got.size(), "only the later message: " + got);
        assertEquals(0, withSubject(got, "half"));
        assertEquals(1, files(host.drop, "t.*").size(), "left alone (removed after a day)");
    }

    @Test
    void anotherUserCannotReadReplaceOrDeleteADroppedFile() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to run commands as nobody");
        assertEquals(0, host.sendmail("Subject: secret\n\nroot's secret\n", "root").code());
        Path file = files(host.drop, "m.*").get(0);
        String f = file.toString();
        String d = host.drop.toString();
        for (String attack : List.of("cat " + f, "ls " + d, "rm -f " + f, "mv -f " + d + "/mine " + f,
                "echo evil > " + f, "ln -f " + d + "/mine " + f, "chmod 666 " + f)) {
            MtaHost.Result r = MtaHost.run(List.of("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                    "sh", "-c", "echo mine > " + d + "/mine; " + attack), null);
            assertNotEquals(0, r.code(), "nobody could: " + attack + " " + r);
            assertTrue(!r.out().contains("secret"), r.out());
        }
        assertTrue(Files.readString(file).contains("root's secret"), "the file is unchanged");
        // nobody can submit too: its own file, which the daemon takes with nobody's uid.
        MtaHost.Result mine = MtaHost.run(List.of("setpriv", "--reuid=nobody", "--regid=nogroup", "--clear-groups",
                host.sendmail.toString(), "-f", "nobody", "root"), "Subject: from nobody\n\nhi\n");
        assertEquals(0, mine.code(), mine.toString());
        Files.deleteIfExists(host.drop.resolve("mine"));
        host.start();
        List<String> got = host.awaitDelivered(2, Duration.ofSeconds(30));
        assertEquals(1, withSubject(got, "secret"));
        String nobody = got.stream().filter(m -> m.contains("Subject: from nobody")).findFirst().orElseThrow();
        assertTrue(nobody.contains("(relaybox, from userid 65534)"), nobody);
    }

    @Test
    void anInvalidFileIsMovedAsideWithALogLineAndADsn() throws Exception {
        Path bad = host.drop.resolve("m.0000000000001.1.bad");
        Files.writeString(bad, "relaybox-drop 1\nsender app@x.example\nrcpt not an address@\n\nSubject: x\r\n\r\nx\r\n");
        host.start();
        List<String> got = host.awaitDelivered(1, Duration.ofSeconds(30));
        String dsn = got.get(0);
        assertTrue(dsn.startsWith("Return-Path: <>\r\nX-Relaybox-To: <app@x.example>\r\n"), dsn);
        assertTrue(dsn.contains("5.1.3 Bad recipient address syntax"), dsn);
        assertTrue(Files.exists(host.drop.resolve(".bad").resolve(bad.getFileName())), "kept aside");
        assertTrue(host.currentLog().contains("- pickup rejected file=m.0000000000001.1.bad uid=0 from=<app@x.example>"
                + " reason=\"5.1.3 Bad recipient address syntax: \\\"not an address@\\\"\""), host.currentLog());
    }

    @Test
    void aFullDropDirectoryIsExit75WithAClearMessage() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "needs root to mount a small tmpfs");
        Path small = tmp.resolve("small");
        Files.createDirectories(small);
        MtaHost.Result m = MtaHost.run(List.of("mount", "-t", "tmpfs", "-o", "size=64k", "tmpfs", small.toString()), null);
        assumeTrue(m.code() == 0, "cannot mount a tmpfs here: " + m);
        try {
            MtaHost.Result r = host.sendmail("Subject: big\n\n" + "y".repeat(200_000) + "\n", "--drop-dir",
                    small.toString(), "big@y.example");
            assertEquals(75, r.code(), r.toString());
            assertTrue(r.err().contains("message NOT queued") && r.err().contains("the disk is full")
                    && r.err().contains(small.toString()), r.err());
            try (Stream<Path> s = Files.list(small)) {
                assertEquals(0, s.count(), "nothing is left behind");
            }
        } finally {
            MtaHost.run(List.of("umount", small.toString()), null);
        }
    }
}
