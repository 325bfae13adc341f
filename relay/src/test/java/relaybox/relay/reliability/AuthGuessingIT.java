package relaybox.relay.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.intake.Credentials;

import java.io.File;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 17: password guessing from 60 addresses of one IPv6 /64 (a network namespace), three
 * wrong passwords from each, against the real daemon with its default guessing limits. The /64
 * is locked out after intake_auth_network_failures (10) failures, so the daemon makes about that
 * many password checks, not 180; counted by the daemon's own metric. Meanwhile a loopback client
 * sends mail and its times are printed. Needs root (namespaces), python3 and openssl.
 */
class AuthGuessingIT {

    private static final int ADDRESSES = 60;
    private static final int ATTEMPTS = 3;

    @TempDir
    Path dir;

    @Test
    void guessingFromOneSlash64IsCutOffAfterTheNetworkLimit() throws Exception {
        assumeTrue(new File("/usr/bin/python3").canExecute(), "python3 is not installed");
        assumeTrue(new File("/usr/bin/openssl").canExecute(), "openssl is not installed");
        try (Netns net = Netns.create(ADDRESSES)) {
            assumeTrue(net != null, "network namespaces need root");
            // One IPv6 /64 where the kernel has IPv6; otherwise one IPv4 /24, which the same
            // network limit covers.
            String host = net.hasIpv6() ? net.hostV6() : net.hostV4();
            String listen = net.hasIpv6() ? "[" + host + "]" : host;
            List<String> sources = net.hasIpv6() ? net.v6() : net.v4();
            Path cert = dir.resolve("cert.pem");
            Path key = dir.resolve("key.pem");
            assertTrue(Netns.sh("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
                    "-nodes", "-keyout", key.toString(), "-out", cert.toString(), "-days", "2",
                    "-subj", "/CN=relay.test") == 0);
            Path creds = dir.resolve("credentials");
            Files.writeString(creds, "user:" + Credentials.hash("the-right-password") + "\n");
            // Secrets the daemon accepts only when nobody else can read them (exit 78 otherwise).
            Files.setPosixFilePermissions(creds, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            Files.setPosixFilePermissions(key, java.nio.file.attribute.PosixFilePermissions.fromString("rw-------"));
            Path script = dir.resolve("guess.py");
            try (var in = AuthGuessingIT.class.getResourceAsStream("guess.py")) {
                Files.copy(in, script);
            }
            int port = DaemonProcess.freePort();
            int metricsPort = DaemonProcess.freePort();
            Path config = dir.resolve("relaybox.conf");
            try (UpstreamSink sink = new UpstreamSink().start();
                 DaemonProcess daemon = new DaemonProcess(config, dir.resolve("daemon.log"), port,
                         List.of("-Xmx256m"))) {
                // Default guessing limits; TLS and credentials so that AUTH is offered.
                Files.writeString(config, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, sink.port(),
                                "intake_tls_cert = \"" + cert + "\"\nintake_tls_key = \"" + key + "\"\n"
                                        + "intake_auth_credentials = \"" + creds + "\"\n"
                                        + "metrics_listen = \"127.0.0.1:" + metricsPort + "\"\n")
                        .replace("intake_listen = [\"127.0.0.1:" + port + "\"]",
                                "intake_listen = [\"127.0.0.1:" + port + "\", \"" + listen + ":" + port + "\"]"));
                daemon.start(Duration.ofSeconds(60));

                Process guess = net.start(dir.resolve("guess.log").toFile(), "/usr/bin/python3", script.toString(),
                        host, String.valueOf(port), String.valueOf(ATTEMPTS), "10",
                        String.join(",", sources));
                List<Long> local = new ArrayList<>();
                int n = 0;
                while (guess.isAlive() && n < 200) {
                    long t0 = System.nanoTime();
                    try (SmtpSender s = new SmtpSender(port, 10_000)) {
                        s.hello();
                        assertTrue(s.send("local-" + n++, 1024).startsWith("250"));
                    }
                    local.add((System.nanoTime() - t0) / 1_000_000);
                    Thread.sleep(50);
                }
                assertTrue(guess.waitFor(5, java.util.concurrent.TimeUnit.MINUTES));
                String guessed = Files.readString(dir.resolve("guess.log")).trim();
                long checks = metric(metricsPort, "relaybox_intake_auth_checks_total");
                long refusedNetwork = metric(metricsPort, "relaybox_intake_auth_refused_total{limit=\"network\"}");
                long[] sorted = local.stream().mapToLong(Long::longValue).sorted().toArray();
                System.out.printf("AuthGuessingIT: %d addresses of one %s x %d wrong passwords: %s; password checks "
                                + "made %d (of %d tries), refused unchecked for the /64: %d; loopback client "
                                + "meanwhile, %d messages, ms median %d max %d%n", ADDRESSES, net.hasIpv6() ? "IPv6 /64" : "IPv4 /24", ATTEMPTS, guessed,
                        checks, ADDRESSES * ATTEMPTS, refusedNetwork, sorted.length,
                        sorted.length == 0 ? 0 : sorted[sorted.length / 2],
                        sorted.length == 0 ? 0 : sorted[sorted.length - 1]);
                // 10 failures lock the /64 for 2 s, then 4 s, 8 s ...: one more check per lock-out
                // that ends while the guessing runs.
                assertTrue(checks >= 10 && checks <= 20, "password checks made: " + checks + "; " + guessed);
                assertTrue(refusedNetwork > 0, guessed);
            }
        }
    }

    /** A counter's value from the daemon's Prometheus endpoint (0 when absent). */
    private static long metric(int port, String name) throws Exception {
        String text = HttpClient.newHttpClient().send(HttpRequest.newBuilder(
                URI.create("http://127.0.0.1:" + port + "/metrics")).build(), HttpResponse.BodyHandlers.ofString()).body();
        Matcher m = Pattern.compile("(?m)^" + Pattern.quote(name) + " ([0-9.eE+]+)$").matcher(text);
        return m.find() ? (long) Double.parseDouble(m.group(1)) : 0;
    }
}
