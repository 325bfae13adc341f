package relaybox.admin;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The clients that really run on a Debian host, each pointed at relaybox's sendmail (or its SMTP
 * port) with the real daemon running, and each message byte-checked where it is delivered (the
 * outbox): cron's exact call, PHP's mail(), git send-email, s-nail, bsd-mailx, Python's
 * smtplib with LF-only bytes, sendmail -bs fed from a pipe, and every bare CR/LF smuggling
 * terminator in normalize mode. A client that is not installed is skipped (.ci/run installs them).
 */
class HostMtaClientsTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    static Path tmp;
    static MtaHost host;

    @BeforeAll
    static void start() throws Exception {
        host = new MtaHost(tmp);
        host.start();
    }

    @AfterAll
    static void stop() throws Exception {
        host.close();
    }

    /** The one delivered message whose Subject: is {@code subject}. */
    private static String deliveredWithSubject(String subject) throws Exception {
        MtaHost.await("a message with Subject: " + subject, Duration.ofSeconds(30), () -> count(subject) >= 1);
        Thread.sleep(300); // a second copy would have arrived by now
        assertEquals(1, count(subject), "exactly one message with Subject: " + subject);
        return host.delivered().stream().filter(m -> m.contains("\r\nSubject: " + subject + "\r\n")).findFirst()
                .orElseThrow();
    }

    private static long count(String subject) {
        try {
            return host.delivered().stream().filter(m -> m.contains("\r\nSubject: " + subject + "\r\n")).count();
        } catch (java.io.IOException e) {
            return 0;
        }
    }

    @Test
    void debianCronsExactCallIsQueuedQualifiedAndAliased() throws Exception {
        String cron = "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@h> run-parts\nMIME-Version: 1.0\n"
                + "Content-Type: text/plain; charset=UTF-8\nContent-Transfer-Encoding: 8bit\n"
                + "X-Cron-Env: <SHELL=/bin/sh>\nX-Cron-Env: <LOGNAME=root>\n\nr\u00e9sultat: ok\n.\nlast\n";
        MtaHost.Result r = host.sendmail(cron, "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root");
        assertEquals(0, r.code(), r.toString());
        assertEquals("", r.err());
        String eml = deliveredWithSubject("Cron <root@h> run-parts");
        assertTrue(eml.startsWith("Return-Path: <root@host.example>\r\nX-Relaybox-To: <admin@corp.example>\r\n"), eml);
        assertEquals("From: root@host.example (Cron Daemon)\r\nTo: root@host.example\r\n"
                + "Subject: Cron <root@h> run-parts\r\nMIME-Version: 1.0\r\n"
                + "Content-Type: text/plain; charset=UTF-8\r\nContent-Transfer-Encoding: 8bit\r\n"
                + "X-Cron-Env: <SHELL=/bin/sh>\r\nX-Cron-Env: <LOGNAME=root>\r\n\r\nr\u00e9sultat: ok\r\n.\r\nlast\r\n",
                MtaHost.clientPart(eml, "From: root@host.example"));
    }

    @Test
    void phpMailWithSendmailPathDashTDashI() throws Exception {
        assumeTrue(MtaHost.installed("php"), "php-cli is not installed");
        MtaHost.Result r = MtaHost.run(List.of("php", "-n", "-d", "sendmail_path=" + host.sendmail + " -t -i", "-r",
                "exit(mail('root', 'php subject', \"line1\\nline2\\n.\\nline4\", 'From: www-data') ? 0 : 1);"), "");
        assertEquals(0, r.code(), r.toString());
        String eml = deliveredWithSubject("php subject");
        assertTrue(eml.startsWith("Return-Path: <root@host.example>\r\nX-Relaybox-To: <admin@corp.example>\r\n"), eml);
        assertEquals("To: root@host.example\r\nSubject: php subject\r\nFrom: www-data@host.example\r\n\r\n"
                + "line1\r\nline2\r\n.\r\nline4\r\n", MtaHost.clientPart(eml, "To: root@host.example"));
    }

    @Test
    void gitSendEmail() throws Exception {
        MtaHost.Result help = MtaHost.run(List.of("git", "send-email", "-h"), "");
        assumeTrue((help.out() + help.err()).contains("send-email --dump-aliases"),
                "git send-email (git-email) is not installed");
        Path repo = tmp.resolve("repo");
        Files.createDirectories(repo);
        Files.writeString(repo.resolve("a.txt"), "a\n.\n");
        for (List<String> c : List.of(List.of("git", "init", "-q"), List.of("git", "add", "a.txt"),
                List.of("git", "-c", "user.name=Dev", "-c", "user.email=dev@x.example", "commit", "-q", "-m",
                        "git patch subject"),
                List.of("git", "format-patch", "-q", "-1"))) {
            MtaHost.Result r = MtaHost.run(c, "", repo);
            assertEquals(0, r.code(), c + ": " + r);
        }
        MtaHost.Result r = MtaHost.run(List.of("git", "-c", "user.name=Dev", "-c", "user.email=dev@x.example",
                "send-email", "--smtp-server=" + host.sendmail, "--to=root", "--confirm=never", "--suppress-cc=all",
                "--quiet", "0001-git-patch-subject.patch"), "", repo);
        assertEquals(0, r.code(), r.toString());
        String eml = deliveredWithSubject("[PATCH] git patch subject");
        String patch = Files.readString(repo.resolve("0001-git-patch-subject.patch"), StandardCharsets.ISO_8859_1);
        String body = patch.substring(patch.indexOf("\n\n") + 2).replace("\n", "\r\n");
        assertTrue(eml.contains("\r\nFrom: Dev <dev@x.example>\r\nTo: root@host.example\r\n"), eml);
        assertTrue(eml.endsWith("\r\n\r\n" + body), "the patch arrives byte for byte:\n" + eml);
    }

    @Test
    void sNail() throws Exception {
        assumeTrue(MtaHost.installed("s-nail"), "s-nail is not installed");
        MtaHost.Result r = MtaHost.run(List.of("s-nail", "-n", "-Smta=" + host.sendmail, "-s", "snail subject",
                "root"), "snail body\n");
        assertEquals(0, r.code(), r.toString());
        String eml = deliveredWithSubject("snail subject");
        assertTrue(eml.contains("\r\nTo: root@host.example\r\n"), eml);
        assertTrue(eml.contains("X-Relaybox-To: <admin@corp.example>\r\n"), eml);
        assertTrue(eml.endsWith("\r\n\r\nsnail body\r\n"), eml);
    }

    @Test
    void bsdMailx() throws Exception {
        assumeTrue(MtaHost.installed("bsd-mailx"), "bsd-mailx is not installed");
        Path rc = tmp.resolve("mailrc");
        Files.writeString(rc, "set sendmail=" + host.sendmail + "\n");
        ProcessBuilder pb = new ProcessBuilder("bsd-mailx", "-s", "mailx subject", "root");
        pb.environment().put("MAILRC", rc.toString());
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            in.write("mailx body\n".getBytes(StandardCharsets.US_ASCII));
        }
        assertEquals(0, p.waitFor());
        String eml = deliveredWithSubject("mailx subject");
        assertTrue(eml.contains("\r\nTo: root@host.example\r\n"), eml);
        assertTrue(eml.contains("X-Relaybox-To: <admin@corp.example>\r\n"), eml);
        assertTrue(eml.endsWith("\r\n\r\nmailx body\r\n"), eml);
    }

    @Test
    void pythonSmtplibSendmailWithLfOnlyBytes() throws Exception {
        Path py = Path.of("/usr/bin/python3");
        assumeTrue(Files.isExecutable(py), "no /usr/bin/python3");
        MtaHost.Result r = MtaHost.run(List.of(py.toString(), "-c", """
                import smtplib, sys
                s = smtplib.SMTP('127.0.0.1', %d)
                refused = s.sendmail('app@x.example', ['you@y.example'],
                    b'From: app@x.example\\nTo: you@y.example\\nSubject: smtplib lf\\n\\nline1\\n.dot\\n..two\\n')
                s.quit()
                sys.exit(1 if refused else 0)
                """.formatted(host.port)), "");
        assertEquals(0, r.code(), r.toString());
        String eml = deliveredWithSubject("smtplib lf");
        assertEquals("From: app@x.example\r\nTo: you@y.example\r\nSubject: smtplib lf\r\n\r\nline1\r\n.dot\r\n..two\r\n\r\n",
                MtaHost.clientPart(eml, "From: app@x.example"));
    }

    @Test
    void sendmailBsFromAPipeAnswersEveryCommandItRead() throws Exception {
        // No QUIT, and a command pipelined behind the final dot: both must be answered before exit.
        MtaHost.Result r = host.sendmail("EHLO pipe\r\nMAIL FROM:<root>\r\nRCPT TO:<root>\r\nDATA\r\n"
                + "Subject: bs pipe\r\n\r\nhi\r\n.\r\nNOOP\r\nRSET\r\n", "-bs");
        assertEquals(0, r.code(), r.toString());
        List<String> codes = r.out().lines().filter(l -> l.length() >= 4 && l.charAt(3) == ' ')
                .map(l -> l.substring(0, 3)).toList();
        assertEquals(List.of("220", "250", "250", "250", "354", "250", "250", "250"), codes, r.out());
        assertTrue(r.out().contains("queued as"), r.out());
        assertFalse(r.out().contains("221"), "our own QUIT's reply is not shown: " + r.out());
        deliveredWithSubject("bs pipe");
    }

    /** Every bare CR/LF "end of data" of the SMTP smuggling research, against the real daemon. */
    @Test
    void noSmugglingTerminatorEndsOrSplitsAMessageInNormalizeMode() throws Exception {
        List<String> terminators = List.of("\n.\n", "\n.\r\n", "\r\n.\n", "\r.\r", "\r.\r\n", "\r\n.\r", "\n.\r",
                "\r.\n", "\r\n\u0000.\r\n", "\r\n.\u0000\r\n", "\n\n.\n\n", "\r\n.\n\r\n", "\n.\n.\r\n");
        for (int i = 0; i < terminators.size(); i++) {
            String t = terminators.get(i);
            String data = "Subject: smuggle " + i + "\r\n\r\nhello" + t + "MAIL FROM:<evil@attacker.example>\r\n"
                    + "RCPT TO:<victim@y.example>\r\nDATA\r\nSubject: smuggled " + i + "\r\n\r\nboo\r\n.\r\nNOOP\r\n";
            String replies = dialog("EHLO a\r\nMAIL FROM:<a@x.example>\r\nRCPT TO:<b@y.example>\r\nDATA\r\n", data);
            boolean bareCr = t.replace("\r\n", "").contains("\r");
            if (bareCr) {
                assertTrue(replies.contains("550 5.6.0"), i + ": " + replies);
            } else {
                assertTrue(replies.contains("queued as"), i + ": " + replies);
                String eml = deliveredWithSubject("smuggle " + i);
                assertTrue(eml.contains("\r\nMAIL FROM:<evil@attacker.example>\r\n"), "stays body: " + eml);
                assertTrue(eml.startsWith("Return-Path: <a@x.example>\r\nX-Relaybox-To: <b@y.example>\r\n"), eml);
            }
        }
        Thread.sleep(500); // waits for something not to happen: a smuggled message would have arrived by now
        for (String m : host.delivered()) {
            assertFalse(m.startsWith("Return-Path: <evil@attacker.example>"), "a smuggled message was sent:\n" + m);
        }
    }

    /** Sends the commands, waits for DATA's 354, sends the data, and returns everything the server said. */
    private static String dialog(String commands, String data) throws Exception {
        try (Socket s = new Socket("127.0.0.1", host.port)) {
            s.setSoTimeout(10_000);
            OutputStream out = s.getOutputStream();
            InputStream in = s.getInputStream();
            StringBuilder got = new StringBuilder();
            out.write(commands.getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            while (!got.toString().contains("354 ")) {
                int c = in.read();
                if (c < 0) {
                    return got.toString();
                }
                got.append((char) c);
            }
            out.write(data.getBytes(StandardCharsets.ISO_8859_1));
            out.write("QUIT\r\n".getBytes(StandardCharsets.ISO_8859_1));
            out.flush();
            try {
                int c;
                while ((c = in.read()) >= 0) {
                    got.append((char) c);
                }
            } catch (java.net.SocketException closed) {
                // The server closed after its 550.
            }
            return got.toString();
        }
    }
}
