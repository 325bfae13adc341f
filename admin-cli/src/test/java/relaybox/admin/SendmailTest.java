package relaybox.admin;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.forward.FakeEsp;

import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** relaybox sendmail as PHP, cron and scripts invoke it, against a fake intake on loopback. */
class SendmailTest {

    @TempDir
    Path tmp;
    FakeEsp intake;

    @BeforeEach
    void start() throws Exception {
        intake = new FakeEsp().start();
        intake.offerSmtpUtf8 = true;
        intake.refuseBareLf = true;
    }

    @AfterEach
    void stop() throws Exception {
        intake.close();
    }

    private AdminHarness.Result sendmail(String stdin, String... args) {
        String[] all = new String[args.length + 1];
        all[0] = "sendmail";
        System.arraycopy(args, 0, all, 1, args.length);
        return AdminHarness.exec(tmp.resolve("none.conf"), Map.of(SendmailConfig.SMTP_ENV, intake.address()), stdin, all);
    }

    @Test
    void phpMailWithDashTDashIAndBcc() {
        // PHP's mail() runs "sendmail -t -i" and writes LF-only text.
        String msg = "To: Alice <alice@x.example>, \"Bob, Jr.\" <bob@y.example>\nSubject: hello\n"
                + "Bcc: hidden@z.example\nCc: carol@x.example (Carol)\n\nline 1\n.\n..two dots\nend\n";
        AdminHarness.Result r = sendmail(msg, "-t", "-i", "-f", "www@corp.example");
        assertEquals(0, r.code(), r.toString());
        assertEquals("", r.err(), r.toString());
        FakeEsp.Received t = intake.received.get(0);
        assertEquals("MAIL FROM:<www@corp.example>", t.mailLine());
        assertEquals(List.of("alice@x.example", "bob@y.example", "hidden@z.example", "carol@x.example"), t.to());
        assertFalse(t.wireText().contains("Bcc"), "Bcc removed: " + t.wireText());
        assertFalse(t.wireText().contains("hidden@z.example"), t.wireText());
        assertTrue(t.wireText().startsWith("From: www@corp.example\r\nTo: Alice"), "From added first: " + t.wireText());
        // With -i a lone dot is text: it is dot-stuffed on the wire, as is a line starting with dots.
        assertTrue(t.wireText().endsWith("\r\nline 1\r\n..\r\n...two dots\r\nend\r\n"), t.wireText());
    }

    @Test
    void cronInvocation() {
        // cron (cronie/Debian cron): sendmail -FCronDaemon -i -B8BITMIME -oem user
        String msg = "From: root (Cron Daemon)\nTo: root\nSubject: Cron <root@host> run-parts\n\nöutput\n";
        AdminHarness.Result r = sendmail(msg, "-FCronDaemon", "-i", "-B8BITMIME", "-oem", "root@host.example");
        assertEquals(0, r.code(), r.toString());
        assertEquals("", r.err(), "-oem is a known no-op: " + r);
        FakeEsp.Received t = intake.received.get(0);
        assertTrue(t.mailLine().endsWith(" BODY=8BITMIME"), t.mailLine());
        assertEquals(List.of("root@host.example"), t.to(), "without -t only the argument");
        assertTrue(t.wireText().startsWith("From: root (Cron Daemon)\r\n"), "existing From kept: " + t.wireText());
        assertTrue(t.wireText().contains("\r\n\r\n\u00c3\u00b6utput\r\n"), "8-bit bytes pass unchanged: " + t.wireText());
    }

    @Test
    void fullNameMakesTheFromHeaderWhenMissing() {
        AdminHarness.Result r = sendmail("Subject: x\n\nbody\n", "-F", "Backup Job", "-f", "backup@corp.example",
                "ops@corp.example");
        assertEquals(0, r.code(), r.toString());
        assertTrue(intake.received.get(0).wireText().startsWith("From: Backup Job <backup@corp.example>\r\n"),
                intake.received.get(0).wireText());
    }

    @Test
    void withoutDashIALoneDotEndsTheMessage() {
        AdminHarness.Result r = sendmail("Subject: x\n\nfirst\n.\nnot sent\n", "a@x.example");
        assertEquals(0, r.code(), r.toString());
        String data = intake.received.get(0).wireText();
        assertTrue(data.endsWith("\r\nfirst\r\n"), data);
    }

    @Test
    void crlfAndLoneCrInputBecomeCrlf() {
        AdminHarness.Result r = sendmail("Subject: x\r\n\r\none\r\ntwo\rthree\n", "-i", "a@x.example");
        assertEquals(0, r.code(), r.toString());
        assertTrue(intake.received.get(0).wireText().endsWith("\r\n\r\none\r\ntwo\r\nthree\r\n"),
                intake.received.get(0).wireText());
    }

    /** A loopback port nothing listens on (any more). */
    private static int closedPort() throws Exception {
        try (ServerSocket s = new ServerSocket()) {
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    @Test
    void daemonDownIsTempfailWithTheMessageNotQueued() throws Exception {
        int port = closedPort();
        AdminHarness.Result r = AdminHarness.exec(tmp.resolve("none.conf"), Map.of(), "Subject: x\n\nbody\n",
                "sendmail", "--smtp", "127.0.0.1:" + port, "a@x.example");
        assertEquals(75, r.code(), r.toString());
        assertTrue(r.err().contains("message NOT queued") && r.err().contains("not reachable"), r.toString());
    }

    /** sendmail as installed: no --smtp, no $RELAYBOX_SMTP, only the config file. */
    private AdminHarness.Result byConfig(Path dropDir, String intakeAddress, String stdin, String... args)
            throws Exception {
        Path conf = tmp.resolve("relaybox.conf");
        Files.writeString(conf, "intake_listen = [\"" + intakeAddress + "\"]\ndrop_dir = \"" + dropDir + "\"\n");
        String[] all = new String[args.length + 1];
        all[0] = "sendmail";
        System.arraycopy(args, 0, all, 1, args.length);
        return AdminHarness.exec(conf, Map.of(), stdin, all);
    }

    private static List<Path> dropped(Path dir) throws Exception {
        try (var s = Files.list(dir)) {
            return s.filter(p -> p.getFileName().toString().startsWith("m.")).toList();
        }
    }

    @Test
    void byDefaultTheMessageGoesIntoTheDropDirectoryEvenWithTheDaemonUp() throws Exception {
        Path drop = Files.createDirectory(tmp.resolve("maildrop"));
        AdminHarness.Result r = byConfig(drop, intake.address(), "Subject: x\n\nbody\n", "-v", "a@x.example");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.err().contains("written to " + drop + "/m.") && r.err().contains("the daemon queues it"),
                r.toString());
        assertTrue(intake.received.isEmpty(), "nothing over SMTP: " + intake.received);
        List<Path> files = dropped(drop);
        assertEquals(1, files.size(), files.toString());
        String file = Files.readString(files.get(0));
        assertTrue(file.startsWith(DropWriter.MAGIC + "\nsender ") && file.contains("\nrcpt a@x.example\n")
                && file.endsWith("\r\nbody\r\n"), file);
        // Named explicitly, the intake comes first, as before: the daemon's refusals become exit codes.
        r = byConfig(drop, "127.0.0.1:1", "Subject: x\n\nbody\n", "--smtp", intake.address(), "a@x.example");
        assertEquals(0, r.code(), r.toString());
        assertEquals(1, intake.received.size());
        assertEquals(1, dropped(drop).size());
    }

    @Test
    void withoutItsDropDirectoryTheDefaultGoesOverSmtp() throws Exception {
        Path missing = tmp.resolve("no-such-maildrop");
        AdminHarness.Result r = byConfig(missing, intake.address(), "Subject: x\n\nbody\n", "-v", "a@x.example");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.err().contains(missing + " does not exist; trying the daemon's intake"), r.toString());
        assertEquals(1, intake.received.size());
        assertTrue(intake.received.get(0).wireText().endsWith("\r\nbody\r\n"));
        // A daemon that refuses is final, as with --smtp.
        intake.replyAlways("RCPT TO:<bad@", "550 5.1.1 No such user");
        r = byConfig(missing, intake.address(), "Subject: x\n\nbody\n", "bad@x.example");
        assertEquals(67, r.code(), r.toString());
    }

    @Test
    void neitherWayIsTempfailSayingBothReasons() throws Exception {
        Path missing = tmp.resolve("no-such-maildrop");
        AdminHarness.Result r = byConfig(missing, "127.0.0.1:" + closedPort(), "Subject: x\n\nbody\n", "a@x.example");
        assertEquals(75, r.code(), r.toString());
        assertTrue(r.err().contains("message NOT queued: the drop directory " + missing + " does not exist, and ")
                && r.err().contains("not reachable"), r.toString());
    }

    @Test
    void temporaryRefusalIsTempfail() {
        intake.replyAlways("DATA_END", "451 4.3.0 Queue storage failed, try again later");
        AdminHarness.Result r = sendmail("Subject: x\n\nbody\n", "a@x.example");
        assertEquals(75, r.code(), r.toString());
        assertTrue(r.err().contains("NOT queued") && r.err().contains("451 4.3.0"), r.toString());
        intake.clearRules();
        intake.replyAlways("GREETING", "421 4.3.2 Service shutting down");
        assertEquals(75, sendmail("Subject: x\n\nbody\n", "a@x.example").code());
    }

    @Test
    void permanentRefusalsMapToSysexits() {
        intake.replyAlways("RCPT TO:<bad@", "550 5.1.1 No such user");
        AdminHarness.Result r = sendmail("Subject: x\n\nbody\n", "good@x.example", "bad@x.example");
        assertEquals(67, r.code(), r.toString());
        assertTrue(r.err().contains("bad@x.example") && r.err().contains("550 5.1.1"), r.toString());
        assertTrue(intake.received.isEmpty(), "all or nothing: no copy for the good recipient");
        r = sendmail("Subject: x\n\nbody\n", "bad@x.example");
        assertEquals(67, r.code(), "the only recipient refused, DATA refused with it: " + r);
        assertTrue(intake.received.isEmpty(), r.toString());
        intake.clearRules();
        intake.replyAlways("DATA_END", "550 5.6.0 Message refused");
        assertEquals(65, sendmail("Subject: x\n\nbody\n", "a@x.example").code());
        intake.clearRules();
        intake.replyAlways("MAIL", "553 5.1.7 Bad sender address syntax");
        assertEquals(65, sendmail("Subject: x\n\nbody\n", "a@x.example").code());
    }

    @Test
    void withoutPipeliningEveryCommandWaitsForItsReplyAndRefusalsMapAlike() {
        intake.pipelining = false;
        AdminHarness.Result r = sendmail("Subject: x\n\nbody\n", "a@x.example", "b@x.example");
        assertEquals(0, r.code(), r.toString());
        assertEquals(List.of("a@x.example", "b@x.example"), intake.received.get(0).to());
        intake.replyAlways("RCPT TO:<bad@", "550 5.1.1 No such user");
        r = sendmail("Subject: x\n\nbody\n", "good@x.example", "bad@x.example");
        assertEquals(67, r.code(), r.toString());
        assertEquals(1, intake.received.size(), "all or nothing: no copy for the good recipient");
        assertEquals(1, intake.count("RSET"), "the transaction is reset");
    }

    /**
     * With PIPELINING offered, MAIL, both RCPTs and DATA come before any reply, and QUIT comes
     * behind the final dot before its 250: a stand-in that answers only then would wait for
     * ever (here: 10 s) for a client that waits for each reply.
     */
    @Test
    void withPipeliningCommandsGoInGroupsAndEveryReplyIsStillRead() throws Exception {
        try (ServerSocket listener = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            List<String> seen = new java.util.concurrent.CopyOnWriteArrayList<>();
            Thread server = new Thread(() -> {
                try (java.net.Socket s = listener.accept()) {
                    s.setSoTimeout(10_000);
                    java.io.BufferedReader in = new java.io.BufferedReader(new java.io.InputStreamReader(
                            s.getInputStream(), java.nio.charset.StandardCharsets.ISO_8859_1));
                    java.io.OutputStream out = s.getOutputStream();
                    out.write("220 stand-in ESMTP\r\n".getBytes());
                    seen.add(in.readLine());
                    out.write("250-stand-in\r\n250 PIPELINING\r\n".getBytes());
                    for (int i = 0; i < 4; i++) {
                        seen.add(in.readLine()); // MAIL, RCPT, RCPT, DATA: no reply in between
                    }
                    out.write("250 2.1.0 Ok\r\n250 2.1.5 Ok\r\n250 2.1.5 Ok\r\n354 go on\r\n".getBytes());
                    String line;
                    while (!(line = in.readLine()).equals(".")) {
                        seen.add("data: " + line);
                    }
                    seen.add(in.readLine()); // QUIT, before the 250 to the dot
                    out.write("250 2.0.0 Ok: queued as STANDIN\r\n221 2.0.0 Bye\r\n".getBytes());
                    seen.add(String.valueOf(in.readLine())); // the client closes: null
                } catch (java.io.IOException e) {
                    seen.add("server: " + e);
                }
            });
            server.start();
            AdminHarness.Result r = AdminHarness.exec(tmp.resolve("none.conf"), Map.of(), "Subject: x\n\nbody\n",
                    "sendmail", "-v", "--smtp", "127.0.0.1:" + listener.getLocalPort(), "a@x.example", "b@x.example");
            server.join(20_000);
            assertEquals(0, r.code(), r.toString() + seen);
            assertEquals("EHLO localhost", seen.get(0), seen.toString());
            assertTrue(seen.get(1).startsWith("MAIL FROM:<"), seen.toString());
            assertEquals(List.of("RCPT TO:<a@x.example>", "RCPT TO:<b@x.example>", "DATA"), seen.subList(2, 5));
            assertTrue(seen.contains("data: body"), seen.toString());
            assertEquals(List.of("QUIT", "null"), seen.subList(seen.size() - 2, seen.size()), seen.toString());
            assertEquals(0, r.code(), r.toString());
            assertTrue(r.err().contains("queued as STANDIN"), r.toString());
        }
    }

    @Test
    void aDaemonStoppingAtMailMeansTheDropDirectoryAsBeforeAnyTransaction() throws Exception {
        Path drop = Files.createDirectories(tmp.resolve("drop"));
        intake.rule("MAIL", "replyclose 421 4.3.2 Service shutting down", 1);
        AdminHarness.Result r = sendmail("Subject: x\n\nbody\n", "--drop-dir", drop.toString(), "-v", "a@x.example");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.err().contains("daemon is stopping") && r.err().contains("written to " + drop), r.toString());
        try (var files = Files.list(drop)) {
            assertEquals(1, files.filter(f -> f.getFileName().toString().startsWith("m.")).count());
        }
        assertTrue(intake.received.isEmpty());
        // Gone without a word at MAIL (with pipelining, the reset of the unread RCPTs can take
        // the 421 with it): nothing was taken either.
        intake.rule("MAIL", "close", 1);
        r = sendmail("Subject: y\n\nbody\n", "--drop-dir", drop.toString(), "a@x.example");
        assertEquals(0, r.code(), r.toString());
        try (var files = Files.list(drop)) {
            assertEquals(2, files.filter(f -> f.getFileName().toString().startsWith("m.")).count());
        }
        assertTrue(intake.received.isEmpty());
    }

    @Test
    void usageErrors() {
        AdminHarness.Result r = sendmail("Subject: x\n\nbody\n");
        assertEquals(64, r.code(), "no recipients: " + r);
        assertTrue(r.err().contains("no recipients"), r.toString());
        assertEquals(64, sendmail("x", "-Z", "a@x.example").code());
        r = sendmail("Subject: x\n\nbody\n", "-oQ/var/spool", "a@x.example");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.err().contains("warning: option -oQ/var/spool ignored"), r.toString());
    }

    @Test
    void nullSenderAndCommaListArguments() {
        AdminHarness.Result r = sendmail("Subject: x\n\nbody\n", "-f", "<>", "a@x.example, b@y.example");
        assertEquals(0, r.code(), r.toString());
        assertEquals("MAIL FROM:<>", intake.received.get(0).mailLine());
        assertEquals(List.of("a@x.example", "b@y.example"), intake.received.get(0).to());
    }

    @Test
    void intakeAddressComesFromTheConfigFile() throws Exception {
        Path conf = tmp.resolve("relaybox.conf");
        Files.writeString(conf, "# comment\n#intake_listen = [\"127.0.0.1:25\"]\nintake_listen = [\n  \""
                + intake.address() + "\", \"[::1]:25\"]\n\n[[upstream]]\nintake_listen = [\"wrong\"]\n");
        AdminHarness.Result r = AdminHarness.exec(conf, Map.of(), "Subject: x\n\nbody\n", "sendmail", "a@x.example");
        assertEquals(0, r.code(), r.toString());
        assertEquals(1, intake.received.size());
    }

    @Test
    void theSmallListenScanAgreesWithTheConfigReader() throws Exception {
        for (String toml : List.of("intake_listen = [\"127.0.0.1:2525\"]\n",
                "queue_dir = \"/q\"\nintake_listen = [ \"0.0.0.0:25\" , \"[::]:25\" ]\n",
                "intake_listen = [\n  \"[::1]:587\",\n]\n")) {
            InetSocketAddress viaReader = IntakeConfig.from(ConfigReader.parse("t", toml)).listen().get(0);
            String scanned = SendmailConfig.firstListen(toml).orElseThrow();
            String host = scanned.substring(0, scanned.lastIndexOf(':')).replace("[", "").replace("]", "");
            assertEquals(viaReader.getHostString(), host, toml);
            assertEquals(viaReader.getPort(), SendmailConfig.port(scanned), toml);
        }
        assertEquals("127.0.0.1", SendmailConfig.host("0.0.0.0:25"));
        assertEquals("::1", SendmailConfig.host("[::]:25"));
        assertEquals(587, SendmailConfig.port("[::1]:587"));
    }

    @Test
    void dashBsRelaysAnSmtpSessionOnStdio() {
        AdminHarness.Result r = sendmail("EHLO app\r\nMAIL FROM:<a@x>\r\nRCPT TO:<b@y>\r\nDATA\r\nSubject: s\r\n\r\nhi\r\n"
                + ".\r\nQUIT\r\n", "-bs");
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().startsWith("220 ") && r.out().contains("250 2.0.0 Ok: queued as")
                && r.out().contains("221"), r.toString());
        assertEquals(1, intake.received.size());
    }

    @Test
    void addressListsFromHeaders() {
        assertEquals(List.of("a@x", "b@y", "c@z", "d@w", "e@v"),
                Addresses.parse("A <a@x>, \"B, C\" <b@y>, c@z (Cee), team: d@w, \"E\" <e@v>;"));
        assertEquals(List.of("user@host"), Addresses.parse("<@relay.example:user@host>"));
        assertEquals(List.of(), Addresses.parse("undisclosed-recipients:;"));
    }
}
