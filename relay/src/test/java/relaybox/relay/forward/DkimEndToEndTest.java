package relaybox.relay.forward;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.DkimConfig;
import relaybox.relay.config.IntakeConfig;
import relaybox.relay.dkim.DkimAlgorithm;
import relaybox.relay.dkim.DkimKey;
import relaybox.relay.dkim.DkimKeys;
import relaybox.relay.dkim.DkimSigner;
import relaybox.relay.dkim.DkimVerifier;
import relaybox.relay.intake.IntakeServer;
import relaybox.relay.log.MailLog;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Issue 4, end to end: a message submitted over SMTP to the intake (with a DkimSigner) is queued,
 * forwarded, and arrives at the fake ESP dual-signed; the received bytes verify with our verifier
 * and with dkimpy, and the mail log's queued line names the signing key.
 */
class DkimEndToEndTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @Test
    void messageSubmittedOverSmtpArrivesSignedAndVerifiable() throws Exception {
        KeyPairGenerator rg = KeyPairGenerator.getInstance("RSA");
        rg.initialize(2048);
        KeyPair rsa = rg.generateKeyPair();
        KeyPair ed = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        DkimKeys keys = new DkimKeys(List.of(
                new DkimKey("corp.example", "r1", DkimAlgorithm.RSA_SHA256, rsa.getPrivate(), rsa.getPublic(),
                        Path.of("/none"), true),
                new DkimKey("corp.example", "e1", DkimAlgorithm.ED25519_SHA256, ed.getPrivate(), ed.getPublic(),
                        Path.of("/none"), true)));
        DkimConfig dkim = new DkimConfig("relaxed", "relaxed",
                DkimConfig.DEFAULT_HEADERS, DkimConfig.DEFAULT_OVERSIGN, Duration.ZERO, DkimConfig.KeyBy.FROM, false,
                DkimConfig.NoKey.REFUSE, List.of());
        Map<String, String> dns = Map.of("r1._domainkey.corp.example", keys.all().get(0).txtRecord(),
                "e1._domainkey.corp.example", keys.all().get(1).txtRecord());

        try (FakeEsp esp = new FakeEsp().start(); Harness h = new Harness()) {
            h.start(Harness.config(1, new Harness.Up("esp", esp.port()).build()));
            ConfigReader r = ConfigReader.parse("test", "intake_listen = [\"127.0.0.1:0\"]\n"
                    + "intake_hostname = \"relay.test\"\nintake_drain_timeout = \"5s\"\n");
            IntakeConfig ic = IntakeConfig.from(r);
            r.finish();
            IntakeServer intake = new IntakeServer(ic, h.queue, new DkimSigner(dkim, keys, Clock.systemUTC()), h.log);
            intake.start();
            try {
                submit(intake.boundAddresses().get(0), """
                        From: App <app@corp.example>
                        To: user@x.example
                        Subject: End to end, with  runs   of spaces
                         and a folded line
                        Content-Type: text/plain; charset=utf-8

                        Grüße.
                        .leading dot (dot-stuffed on the wire both ways)

                        """);
            } finally {
                intake.stop();
            }
            h.await("the ESP receives the message", Duration.ofSeconds(10), () -> esp.received.size() == 1);
            byte[] got = esp.received.get(0).data();
            List<DkimVerifier.Result> results = new DkimVerifier(n -> Optional.ofNullable(dns.get(n))).verify(got);
            assertEquals(2, results.size(), new String(got, StandardCharsets.UTF_8));
            assertTrue(results.stream().allMatch(DkimVerifier.Result::pass), results.toString());
            assertTrue(h.linesWith(" intake queued ").get(0).contains("dkim=corp.example/r1"), h.lines.toString());

            Path eml = dir.resolve("received.eml");
            Files.write(eml, got);
            Path keysFile = dir.resolve("keys.txt");
            Files.write(keysFile, dns.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).toList());
            Process p = new ProcessBuilder("/usr/bin/python3", "src/test/resources/dkim/verify.py",
                    keysFile.toString(), eml.toString()).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), "dkimpy did not finish");
            assertEquals(0, p.exitValue(), "dkimpy: " + out);
            assertEquals(2, out.lines().filter(l -> l.startsWith("pass ")).count(), out);
        }
    }

    /** A plain SMTP client: EHLO, MAIL, RCPT, DATA with dot-stuffing, QUIT; fails on any unexpected reply. */
    static void submit(InetSocketAddress at, String message) throws Exception {
        try (Socket s = new Socket(at.getAddress(), at.getPort())) {
            s.setSoTimeout(10_000);
            BufferedReader in = new BufferedReader(new InputStreamReader(s.getInputStream(), StandardCharsets.UTF_8));
            OutputStream out = s.getOutputStream();
            expect(in, "220");
            send(out, "EHLO app.test");
            expect(in, "250");
            send(out, "MAIL FROM:<app@corp.example>");
            expect(in, "250");
            send(out, "RCPT TO:<user@x.example>");
            expect(in, "250");
            send(out, "DATA");
            expect(in, "354");
            StringBuilder data = new StringBuilder();
            for (String line : message.split("\n", -1)) {
                data.append(line.startsWith(".") ? "." + line : line).append("\r\n");
            }
            data.setLength(data.length() - 2); // split gives a last empty element after the final \n
            out.write((data + ".\r\n").getBytes(StandardCharsets.UTF_8));
            expect(in, "250");
            send(out, "QUIT");
        }
    }

    static void send(OutputStream out, String line) throws Exception {
        out.write((line + "\r\n").getBytes(StandardCharsets.UTF_8));
        out.flush();
    }

    static void expect(BufferedReader in, String code) throws Exception {
        String line;
        do {
            line = in.readLine();
            if (line == null || !line.startsWith(code)) {
                throw new AssertionError("want " + code + ", got " + line);
            }
        } while (line.charAt(3) == '-');
    }
}
