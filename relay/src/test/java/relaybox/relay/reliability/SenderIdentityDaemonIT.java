package relaybox.relay.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.dkim.DkimAlgorithm;
import relaybox.relay.dkim.DkimKeygen;
import relaybox.relay.dkim.DkimVerifier;
import relaybox.relay.forward.FakeEsp;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Who mail goes out as, through the real daemon in a child JVM against the in-process fake ESP:
 * per-sender logins on one upstream never cross (many senders over several client connections,
 * the fake records which login carried which MAIL FROM); the From: rewrite arrives byte for byte
 * as intended and its DKIM signature verifies (our verifier and dkimpy); and an upstream that
 * advertised a smaller SIZE has oversize mail refused at intake with {@code 552 5.3.4}, also
 * after a restart, before any new upstream session.
 */
class SenderIdentityDaemonIT {

    private static final Duration WAIT = Duration.ofSeconds(40);

    @TempDir
    Path dir;

    @Test
    void perSenderLoginsNeverCross() throws Exception {
        try (FakeEsp esp = new FakeEsp(); FakeEsp strict = new FakeEsp()) {
            esp.authMechs = "PLAIN LOGIN";
            esp.user = "default-user";
            esp.password = "pw-default";
            esp.logins.put("alice-login", "pw-alice");
            esp.logins.put("b-login", "pw-b");
            esp.logins.put("carol-login", "pw-carol");
            esp.start();
            strict.authMechs = "LOGIN";
            strict.user = "strict-ok";
            strict.password = "pw-strict";
            strict.start();
            int port = DaemonProcess.freePort();
            Path conf = dir.resolve("relaybox.conf");
            Files.writeString(conf, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, esp.port(), "")
                    + "auth_file = \"" + secret("default", "default-user", "pw-default") + "\"\n"
                    + "max_connections = 3\nmessages_per_connection = 4\n"
                    + login("alice@a.example", secret("alice", "alice-login", "pw-alice"))
                    + login("b.example", secret("b", "b-login", "pw-b"))
                    // An exact address beats its domain; "@c.example" names a domain too.
                    + login("carol@b.example\", \"@c.example", secret("carol", "carol-login", "pw-carol"))
                    + "[[upstream]]\nname = \"strict\"\nhost = \"127.0.0.1\"\nport = " + strict.port() + "\n"
                    + "tls = \"none\"\nsender_domains = [\"strict.example\"]\n"
                    + login("ok@strict.example", secret("strict", "strict-ok", "pw-strict")));
            Map<String, String> expected = new LinkedHashMap<>();
            expected.put("alice@a.example", "alice-login");
            expected.put("bob@a.example", "default-user");
            expected.put("x@b.example", "b-login");
            expected.put("y@B.Example", "b-login");
            expected.put("carol@b.example", "carol-login");
            expected.put("dan@c.example", "carol-login");
            expected.put("app@other.example", "default-user");
            expected.put("", "default-user");
            List<String> senders = new ArrayList<>(expected.keySet());
            try (DaemonProcess d = new DaemonProcess(conf, dir.resolve("daemon.log"), port, List.of())) {
                d.start(Duration.ofSeconds(60));
                int clients = 3;
                int perClient = 24;
                ExecutorService pool = Executors.newFixedThreadPool(clients);
                List<Future<?>> done = new ArrayList<>();
                for (int c = 0; c < clients; c++) {
                    int first = c;
                    done.add(pool.submit(() -> {
                        try (Client cl = new Client(port)) {
                            cl.ehlo();
                            for (int i = 0; i < perClient; i++) {
                                String from = senders.get((first + i * 5) % senders.size());
                                cl.send(from, "to@dest.example", message(from, "c" + first + "-" + i), "250");
                            }
                        }
                        return null;
                    }));
                }
                pool.shutdown();
                for (Future<?> f : done) {
                    f.get(60, TimeUnit.SECONDS);
                }
                try (Client cl = new Client(port)) {
                    cl.ehlo();
                    cl.send("ok@strict.example", "to@dest.example", message("ok@strict.example", "strict-ok"), "250");
                    cl.send("nope@strict.example", "to@dest.example", message("nope@strict.example", "strict-no"), "250");
                }
                await("all delivered", () -> esp.received.size() == clients * perClient && strict.received.size() == 1, d);
                for (FakeEsp.Received r : esp.received) {
                    assertEquals(expected.get(r.from()), r.authUser(), "MAIL FROM:<" + r.from() + "> went out as "
                            + r.authUser());
                }
                assertEquals("strict-ok", strict.received.get(0).authUser());
                assertEquals("ok@strict.example", strict.received.get(0).from());
                // Every login used needs a connection of its own.
                assertTrue(esp.connections.get() >= 4, "connections: " + esp.connections.get());
                System.out.printf("per-sender logins: %d messages over %d connections (at most %d at once)%n",
                        esp.received.size(), esp.connections.get(), esp.maxConcurrent.get());

                // No login names nope@strict.example and strict has no auth_file: it waits, as a
                // configuration error logged once, and is never sent under strict-ok's login.
                await("deferred twice", () -> d.logCount("no [[upstream.login]] of upstream strict") >= 3, d);
                assertEquals(1, d.logCount("ERROR UpstreamWorker"), d.currentLog());
                assertEquals(1, strict.received.size());
                assertFalse(d.currentLog().contains(" forward failed "), "never a bounce:\n" + d.currentLog());
            }
        }
    }

    @Test
    void fromIsRewrittenBeforeSigningAndTheSignatureVerifies() throws Exception {
        DkimKeygen.Result key = DkimKeygen.generate("verified.example", "s1", DkimAlgorithm.RSA_SHA256, 2048,
                dir.resolve("dkim"));
        try (FakeEsp esp = new FakeEsp()) {
            esp.start();
            int port = DaemonProcess.freePort();
            Path conf = dir.resolve("relaybox.conf");
            Files.writeString(conf, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, esp.port(),
                    key.configSnippet()) + "from_rewrite = \"Alerts <alerts@verified.example>\"\n");
            String date = "Date: Sat, 05 Dec 2026 23:00:00 +0000\r\n";
            String plain = "Subject: disk almost full\r\nFrom: Cron Daemon\r\n <cron@app.example>\r\nTo: ops@dest.example\r\n"
                    + date + "Message-ID: <m1@app.example>\r\n\r\nbody line\r\n.dotted line\r\n";
            String withReplyTo = "Subject: second\r\nReply-To: desk@app.example\r\nFrom: cron@app.example\r\n"
                    + "To: ops@dest.example\r\n" + date + "Message-ID: <m2@app.example>\r\n\r\nsecond body\r\n";
            String already = "Subject: third\r\nFrom: ALERTS@verified.example\r\nTo: ops@dest.example\r\n" + date
                    + "Message-ID: <m3@app.example>\r\n\r\nthird body\r\n";
            try (DaemonProcess d = new DaemonProcess(conf, dir.resolve("daemon.log"), port, List.of())) {
                d.start(Duration.ofSeconds(60));
                try (Client cl = new Client(port)) {
                    cl.ehlo();
                    cl.send("cron@app.example", "ops@dest.example", plain, "250");
                    cl.send("cron@app.example", "ops@dest.example", withReplyTo, "250");
                    cl.send("cron@app.example", "ops@dest.example", already, "250");
                }
                await("3 delivered", () -> esp.received.size() == 3, d);
            }
            Map<String, String> dns = Map.of("s1._domainkey.verified.example", key.key().txtRecord());
            DkimVerifier verifier = new DkimVerifier(n -> Optional.ofNullable(dns.get(n)));
            List<String> want = List.of(
                    "Subject: disk almost full\r\nFrom: Alerts <alerts@verified.example>\r\nTo: ops@dest.example\r\n"
                            + date + "Message-ID: <m1@app.example>\r\nReply-To: Cron Daemon\r\n <cron@app.example>\r\n"
                            + "\r\nbody line\r\n.dotted line\r\n",
                    "Subject: second\r\nReply-To: desk@app.example\r\nFrom: Alerts <alerts@verified.example>\r\n"
                            + "To: ops@dest.example\r\n" + date + "Message-ID: <m2@app.example>\r\n\r\nsecond body\r\n",
                    already);
            for (int i = 0; i < 3; i++) {
                String subject = want.get(i).substring(0, want.get(i).indexOf("\r\n"));
                FakeEsp.Received r = esp.received.stream().filter(x -> x.text().contains(subject + "\r\n")).findFirst()
                        .orElseThrow();
                String text = r.text();
                // Above the client's first line only our own lines: DKIM-Signature and Received.
                String ours = text.substring(0, text.indexOf(subject));
                assertTrue(ours.startsWith("DKIM-Signature:") && ours.contains("\r\nReceived:"), ours);
                assertEquals(want.get(i), text.substring(text.indexOf(subject)), "byte for byte, message " + (i + 1));
                List<DkimVerifier.Result> results = verifier.verify(r.data());
                assertEquals(1, results.size(), text);
                assertTrue(results.get(0).pass(), results + "\n" + text);
                assertDkimpyPasses(r.data(), dns, i);
            }
        }
    }

    @Test
    void oversizeMailForTheUpstreamsSizeIsRefusedAtIntake() throws Exception {
        try (FakeEsp esp = new FakeEsp()) {
            esp.size = 20_000;
            esp.start();
            int port = DaemonProcess.freePort();
            Path conf = dir.resolve("relaybox.conf");
            Files.writeString(conf, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, esp.port(), ""));
            try (DaemonProcess d = new DaemonProcess(conf, dir.resolve("daemon.log"), port, List.of())) {
                d.start(Duration.ofSeconds(60));
                try (Client cl = new Client(port)) {
                    assertTrue(cl.ehlo().contains("SIZE 26214400"), "before any upstream session: intake's own limit");
                    cl.send("app@client.test", "to@dest.example", message("app@client.test", "first"), "250");
                }
                await("the first message delivered", () -> esp.received.size() == 1, d);
                try (Client cl = new Client(port)) {
                    assertTrue(cl.ehlo().contains("250-SIZE 20000\r\n"), "the upstream's SIZE is advertised");
                    String r = cl.command("MAIL FROM:<app@client.test> SIZE=20001");
                    assertTrue(r.startsWith("552 5.3.4 ") && r.contains("sink takes at most 20000 bytes"), r);
                    // No SIZE= given: the data is counted.
                    cl.send("app@client.test", "to@dest.example", message("app@client.test", "big") + "x".repeat(76)
                            .concat("\r\n").repeat(300), "552 5.3.4");
                    // Within 20000 as sent, over it with the relay's Received: line: refused too.
                    String edge = message("app@client.test", "edge");
                    edge += "y".repeat(19_990 - edge.length()) + "\r\n";
                    cl.send("app@client.test", "to@dest.example", edge, "552 5.3.4");
                    cl.send("app@client.test", "to@dest.example", message("app@client.test", "small"), "250");
                }
                await("the small one delivered", () -> esp.received.size() == 2, d);
                assertTrue(Files.readString(dir.resolve("queue").resolve("upstream-sizes")).contains("=20000"));

                d.stop(Duration.ofSeconds(30));
                int connections = esp.connections.get();
                d.start(Duration.ofSeconds(60));
                try (Client cl = new Client(port)) {
                    assertTrue(cl.ehlo().contains("250-SIZE 20000\r\n"), "kept across the restart");
                    cl.send("app@client.test", "to@dest.example", message("app@client.test", "big2") + "x".repeat(76)
                            .concat("\r\n").repeat(300), "552 5.3.4");
                }
                assertEquals(connections, esp.connections.get(), "known without asking the upstream again");
                assertEquals(2, esp.received.size());
            }
        }
    }

    private static void assertDkimpyPasses(byte[] eml, Map<String, String> dns, int i) throws Exception {
        Path dir = Files.createTempDirectory("dkimpy");
        Path file = dir.resolve("m" + i + ".eml");
        Files.write(file, eml);
        Path keys = dir.resolve("keys.txt");
        Files.write(keys, dns.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).toList());
        Process p = new ProcessBuilder("/usr/bin/python3", "src/test/resources/dkim/verify.py", keys.toString(),
                file.toString()).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "dkimpy did not finish");
        assertEquals(0, p.exitValue(), "dkimpy: " + out);
    }

    private String secret(String name, String user, String password) throws IOException {
        Path f = dir.resolve(name + ".secret");
        Files.writeString(f, "username=" + user + "\npassword=" + password + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f.toString();
    }

    private static String login(String senders, String authFile) {
        return "[[upstream.login]]\nsenders = [\"" + senders + "\"]\nauth_file = \"" + authFile + "\"\n";
    }

    private static String message(String from, String id) {
        return "From: " + (from.isEmpty() ? "MAILER-DAEMON@relay.test" : from) + "\r\nTo: to@dest.example\r\n"
                + "Subject: " + id + "\r\nX-Test-Id: " + id + "\r\n\r\nhello from " + id + "\r\n";
    }

    private static void await(String what, java.util.concurrent.Callable<Boolean> cond, DaemonProcess d)
            throws Exception {
        d.await(what, WAIT, cond);
    }

    /** A plain SMTP client that returns whole (multi-line) replies. */
    private static final class Client implements AutoCloseable {
        private final Socket s;
        private final InputStream in;
        private final OutputStream out;

        Client(int port) throws IOException {
            s = new Socket(InetAddress.getLoopbackAddress(), port);
            s.setSoTimeout(30_000);
            in = new java.io.BufferedInputStream(s.getInputStream());
            out = s.getOutputStream();
            String greeting = reply();
            assertTrue(greeting.startsWith("220"), greeting);
        }

        String ehlo() throws IOException {
            return command("EHLO client.test");
        }

        String command(String line) throws IOException {
            out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
            out.flush();
            return reply();
        }

        /** One transaction; the reply to the final "." (or the refusal before) must start with {@code want}. */
        void send(String from, String to, String message, String want) throws IOException {
            String r = command("MAIL FROM:<" + from + ">");
            if (r.startsWith("250")) {
                r = command("RCPT TO:<" + to + ">");
                assertTrue(r.startsWith("250"), r);
                r = command("DATA");
                assertTrue(r.startsWith("354"), r);
                StringBuilder b = new StringBuilder();
                for (String l : message.split("(?<=\r\n)")) {
                    b.append(l.startsWith(".") ? "." : "").append(l);
                }
                r = command(b + ".");
            }
            assertTrue(r.startsWith(want), "want " + want + ", got " + r);
        }

        String reply() throws IOException {
            ByteArrayOutputStream all = new ByteArrayOutputStream();
            ByteArrayOutputStream line = new ByteArrayOutputStream();
            int c;
            while ((c = in.read()) >= 0) {
                line.write(c);
                if (c == '\n') {
                    byte[] l = line.toByteArray();
                    all.writeBytes(l);
                    line.reset();
                    if (l.length < 4 || l[3] != '-') {
                        return all.toString(StandardCharsets.UTF_8);
                    }
                }
            }
            throw new IOException("connection closed: " + all.toString(StandardCharsets.UTF_8));
        }

        @Override
        public void close() throws IOException {
            s.close();
        }
    }
}
