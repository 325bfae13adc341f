package relaybox.relay.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.forward.FakeEsp;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Presets through the real daemon in a child JVM, against the fake ESP answering as the provider
 * does: with {@code preset = "google-relay"} a message for 250 recipients goes out in 3
 * transactions of at most 100 (Google answers a 101st RCPT with 452 4.5.3) and each recipient
 * gets it once; with {@code preset = "microsoft365"} relaybox holds at most 3 connections to the
 * mailbox (Microsoft answers a 4th with 432 4.3.2) and authenticates with AUTH LOGIN, since
 * Microsoft offers no PLAIN and no OAuth is configured. Host, port and tls are overridden to
 * reach the fake on loopback; everything else comes from the preset.
 */
class PresetDaemonIT {

    private static final Duration WAIT = Duration.ofSeconds(60);

    @TempDir
    Path dir;

    @Test
    void googleRelayPresetSends250RecipientsInThreeTransactionsEachOnce() throws Exception {
        try (FakeEsp esp = new FakeEsp().dialect(FakeEsp.Dialect.GOOGLE)) {
            esp.user = "relay@corp.example";
            esp.start();
            int port = DaemonProcess.freePort();
            Path conf = config(esp, port, "google-relay", "");
            try (DaemonProcess d = new DaemonProcess(conf, dir.resolve("daemon.log"), port, List.of())) {
                d.start(Duration.ofSeconds(60));
                List<String> rcpts = new ArrayList<>();
                for (int i = 0; i < 250; i++) {
                    rcpts.add("user" + i + "@example.org");
                }
                try (SmtpSender s = new SmtpSender(port, 10_000)) {
                    s.hello();
                    assertTrue(s.command("MAIL FROM:<app@corp.example>").startsWith("250"));
                    for (String r : rcpts) {
                        String reply = s.command("RCPT TO:<" + r + ">");
                        assertTrue(reply.startsWith("250"), reply);
                    }
                    assertTrue(s.command("DATA").startsWith("354"));
                    s.writeMessage("preset-google", 300);
                    String queued = s.reply();
                    assertTrue(queued.startsWith("250"), queued);
                }
                await("250 recipients delivered", () -> delivered(esp) >= 250, d);
                // Waits for something NOT to happen: a retry would come after queue_retry_min (1s).
                Thread.sleep(2_500);
                assertEquals(0, esp.tooManyRecipients.get(), "no RCPT beyond Google's 100 per transaction");
                assertEquals(3, esp.received.size(), "3 transactions: " + sizes(esp));
                for (FakeEsp.Received r : esp.received) {
                    assertTrue(r.to().size() <= 100, sizes(esp));
                }
                List<String> all = new ArrayList<>();
                esp.received.forEach(r -> all.addAll(r.to()));
                assertEquals(250, all.size(), "each recipient once");
                assertEquals(new HashSet<>(rcpts), new HashSet<>(all));
                assertEquals(3, esp.count("MAIL FROM"));
                assertFalse(d.currentLog().contains("452 4.5.3"), d.currentLog());
            }
        }
    }

    @Test
    void microsoft365PresetHoldsAtMostThreeConnectionsAndUsesLogin() throws Exception {
        try (FakeEsp esp = new FakeEsp().dialect(FakeEsp.Dialect.MICROSOFT)) {
            esp.user = "relay@corp.example";
            // Slow final replies keep every connection busy, so the relay wants more of them.
            esp.endReplyDelayMillis = 300;
            esp.start();
            int port = DaemonProcess.freePort();
            // 30 a minute would make this test last a minute: the rate is overridden (the preset
            // table test checks its value); the connection cap is the preset's.
            Path conf = config(esp, port, "microsoft365", "rate_per_second = 0\n");
            try (DaemonProcess d = new DaemonProcess(conf, dir.resolve("daemon.log"), port, List.of())) {
                d.start(Duration.ofSeconds(60));
                int n = 30;
                try (SmtpSender s = new SmtpSender(port, 10_000)) {
                    s.hello();
                    for (int i = 0; i < n; i++) {
                        String r = s.send("preset-ms-" + i, 200);
                        assertTrue(r.startsWith("250"), r);
                    }
                }
                await(n + " delivered", () -> esp.received.size() >= n, d);
                assertEquals(0, esp.concurrencyRefusals.get(), "Microsoft's 432 4.3.2 never provoked");
                assertEquals(3, esp.maxConcurrent.get(), "the relay used, and kept to, 3 connections");
                assertFalse(esp.authMechanismsUsed.isEmpty());
                assertTrue(esp.authMechanismsUsed.stream().allMatch("LOGIN"::equals), esp.authMechanismsUsed.toString());
                assertEquals(n, esp.received.stream().filter(r -> r.authUser().equals("relay@corp.example")).count());
            }
        }
    }

    /** The daemon's configuration: the fake's loopback address, the preset, its credentials. */
    private Path config(FakeEsp esp, int port, String preset, String extraUpstreamKeys) throws Exception {
        Path secrets = dir.resolve("upstream.secret");
        Files.writeString(secrets, "username=" + esp.user + "\npassword=" + esp.password + "\n");
        Files.setPosixFilePermissions(secrets, PosixFilePermissions.fromString("rw-------"));
        Path conf = dir.resolve("relaybox.conf");
        // tls = "none" (in the base config) is allowed with AUTH only because the fake is on loopback.
        Files.writeString(conf, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, esp.port(),
                "forward_concurrency = 8\n")
                + "preset = \"" + preset + "\"\n"
                + "auth_file = \"" + secrets + "\"\n"
                + extraUpstreamKeys);
        return conf;
    }

    private static int delivered(FakeEsp esp) {
        return esp.received.stream().mapToInt(r -> r.to().size()).sum();
    }

    private static String sizes(FakeEsp esp) {
        List<Integer> out = new ArrayList<>();
        esp.received.forEach(r -> out.add(r.to().size()));
        return out.toString();
    }

    private static void await(String what, java.util.concurrent.Callable<Boolean> cond, DaemonProcess d)
            throws Exception {
        d.await(what, WAIT, cond);
    }
}
