package relaybox.relay.dkim;

import relaybox.relay.config.DkimConfig;

import java.nio.charset.StandardCharsets;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;
import java.util.Random;

/**
 * Signing cost per message, for the closing note: RSA-2048 and Ed25519, 4 KiB and 1 MiB messages,
 * relaxed/relaxed, fed in 64 KiB chunks as the intake does. A timing harness, not a test: it
 * prints figures and asserts nothing. Each case warms up, then runs for about a second (argument:
 * milliseconds). Per-message cost is thread CPU time, which other processes on shared cores
 * disturb less than wall time (also printed).
 *
 * <pre>
 * mvn -q -B -o -pl relay -am test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 * java -cp relay/target/test-classes:relay/target/classes:queue/target/classes:$(cat relay/target/cp.txt) \
 *     relaybox.relay.dkim.DkimBench
 * </pre>
 */
public final class DkimBench {

    public static void main(String[] args) throws Exception {
        long millis = args.length > 0 ? Long.parseLong(args[0]) : 1000;
        KeyPair rsa = DkimFixtures.generate("RSA", 2048);
        KeyPair ed = DkimFixtures.generate("Ed25519", 0);
        System.out.printf(Locale.ROOT, "%-9s %-7s %14s %10s %12s %14s%n", "algorithm", "size", "CPU/message",
                "msgs/s/core", "MB/s/core", "wall/message");
        for (int size : new int[]{4 << 10, 1 << 20}) {
            byte[] message = message(size);
            run("rsa-2048", DkimFixtures.key("example.com", "r", rsa), message, millis);
            run("ed25519", DkimFixtures.key("example.com", "e", ed), message, millis);
            run("body only", null, message, millis);
        }
    }

    static void run(String name, DkimKey key, byte[] message, long millis) throws Exception {
        DkimConfig c = new DkimConfig("relaxed", "relaxed", DkimConfig.DEFAULT_HEADERS,
                DkimConfig.DEFAULT_OVERSIGN, Duration.ZERO, DkimConfig.KeyBy.FROM, false,
                DkimConfig.NoKey.SEND_UNSIGNED, List.of());
        DkimSigner signer = new DkimSigner(c, new DkimKeys(key == null ? List.of() : List.of(key)), Clock.systemUTC());
        once(signer, message, key);
        long warmEnd = System.nanoTime() + millis * 1_000_000L / 2;
        while (System.nanoTime() < warmEnd) {
            once(signer, message, key);
        }
        java.lang.management.ThreadMXBean cpu = java.lang.management.ManagementFactory.getThreadMXBean();
        long n = 0;
        long start = System.nanoTime();
        long cpuStart = cpu.getCurrentThreadCpuTime();
        long end = start + millis * 1_000_000L;
        long now;
        do {
            once(signer, message, key);
            n++;
            now = System.nanoTime();
        } while (now < end);
        double per = (cpu.getCurrentThreadCpuTime() - cpuStart) / 1e3 / n;
        double wall = (now - start) / 1e3 / n;
        System.out.printf(Locale.ROOT, "%-9s %-7s %11.1f µs %10.0f %12.1f %11.1f µs%n", name,
                message.length >= 1 << 20 ? "1 MiB" : "4 KiB", per, 1e6 / per, message.length / per, wall);
    }

    /** Signs once; "body only" (no key) measures header buffering and body hashing alone. */
    static void once(DkimSigner signer, byte[] message, DkimKey key) throws Exception {
        DkimSigner.Session s = signer.begin(null);
        for (int i = 0; i < message.length; i += 65536) {
            s.update(message, i, Math.min(65536, message.length - i));
        }
        if (key != null) {
            if (s.finish("Received: from app by relay; Sun, 22 Nov 2026 12:00:00 +0000\r\n").isEmpty()) {
                throw new IllegalStateException("not signed");
            }
        }
    }

    /** A realistic message: eight header fields, then text lines of 60-76 characters. */
    static byte[] message(int size) {
        StringBuilder b = new StringBuilder("""
                From: App <app@example.com>
                To: user@example.net
                Subject: Your weekly report
                Date: Sun, 22 Nov 2026 12:00:00 +0000
                Message-ID: <bench@example.com>
                MIME-Version: 1.0
                Content-Type: text/plain; charset=utf-8
                Content-Transfer-Encoding: 8bit

                """.replace("\n", "\r\n"));
        Random r = new Random(1);
        while (b.length() < size) {
            int len = 60 + r.nextInt(17);
            for (int i = 0; i < len; i++) {
                b.append(r.nextInt(7) == 0 ? ' ' : (char) ('a' + r.nextInt(26)));
            }
            b.append("\r\n");
        }
        b.setLength(size - 2);
        b.append("\r\n");
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }
}
