package relaybox.relay.intake;

import relaybox.queue.memory.InMemoryQueue;
import relaybox.relay.config.DkimConfig;
import relaybox.relay.dkim.DkimAlgorithm;
import relaybox.relay.dkim.DkimKey;
import relaybox.relay.dkim.DkimKeys;
import relaybox.relay.dkim.DkimSigner;
import relaybox.relay.dkim.MessageSigner;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;

/**
 * Intake throughput with DKIM signing off and on (RSA-2048, Ed25519, both), for the closing note
 * of issue 4. Real SMTP over loopback into an in-memory queue, so the figures show what signing
 * adds to the intake's own path, not the disk. A timing harness, not a test: prints, asserts
 * nothing. Throughput needs a quiet machine; the CPU column (the whole JVM's CPU time per message,
 * client included) is steadier on shared cores, and the difference between rows is signing. Arguments: connections (4), messages per connection at 4 KiB (250), at 1 MiB (5).
 *
 * <pre>
 * mvn -q -B -o -pl relay -am test-compile dependency:build-classpath -Dmdep.outputFile=target/cp.txt -Dmdep.includeScope=test
 * java -cp relay/target/test-classes:relay/target/classes:queue/target/classes:$(cat relay/target/cp.txt) \
 *     relaybox.relay.intake.IntakeDkimBench 4 500 10
 * </pre>
 */
public final class IntakeDkimBench {

    public static void main(String[] args) throws Exception {
        int conns = args.length > 0 ? Integer.parseInt(args[0]) : 4;
        int small = args.length > 1 ? Integer.parseInt(args[1]) : 250;
        int large = args.length > 2 ? Integer.parseInt(args[2]) : 5;
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        KeyPair rsa = g.generateKeyPair();
        KeyPair ed = KeyPairGenerator.getInstance("Ed25519").generateKeyPair();
        DkimKey rsaKey = new DkimKey("corp.example", "r", DkimAlgorithm.RSA_SHA256, rsa.getPrivate(), rsa.getPublic(),
                Path.of("-"), true);
        DkimKey edKey = new DkimKey("corp.example", "e", DkimAlgorithm.ED25519_SHA256, ed.getPrivate(),
                ed.getPublic(), Path.of("-"), true);
        System.out.printf(Locale.ROOT, "%d connections, one message after the other on each%n", conns);
        System.out.printf(Locale.ROOT, "%-14s %-6s %10s %10s %16s%n", "signing", "size", "msgs/s", "MB/s",
                "CPU µs/msg");
        for (int size : new int[]{4 << 10, 1 << 20}) {
            int per = size > 4096 ? large : small;
            run("off", MessageSigner.NONE, conns, per, size);
            run("rsa-2048", signer(List.of(rsaKey)), conns, per, size);
            run("ed25519", signer(List.of(edKey)), conns, per, size);
            run("rsa+ed25519", signer(List.of(rsaKey, edKey)), conns, per, size);
        }
        System.exit(0);
    }

    static MessageSigner signer(List<DkimKey> keys) {
        DkimConfig c = new DkimConfig("relaxed", "relaxed", DkimConfig.DEFAULT_HEADERS,
                DkimConfig.DEFAULT_OVERSIGN, Duration.ZERO, DkimConfig.KeyBy.FROM, false, DkimConfig.NoKey.REFUSE,
                List.of());
        return new DkimSigner(c, new DkimKeys(keys), Clock.systemUTC());
    }

    static void run(String name, MessageSigner signer, int conns, int per, int size) throws Exception {
        byte[] data = message(size);
        try (IntakeHarness h = new IntakeHarness(new InMemoryQueue(), "intake_max_message_size = \"50MiB\"\n", signer)) {
            send(h, data, 1, Math.max(20, per / 5)); // warm-up, so the JIT has compiled the hot loops
            ExecutorService pool = Executors.newFixedThreadPool(conns);
            com.sun.management.OperatingSystemMXBean os = (com.sun.management.OperatingSystemMXBean)
                    java.lang.management.ManagementFactory.getOperatingSystemMXBean();
            long cpu0 = os.getProcessCpuTime();
            long start = System.nanoTime();
            List<Future<?>> done = new ArrayList<>();
            for (int c = 0; c < conns; c++) {
                done.add(pool.submit(() -> {
                    send(h, data, 1, per);
                    return null;
                }));
            }
            for (Future<?> f : done) {
                f.get();
            }
            double s = (System.nanoTime() - start) / 1e9;
            double cpu = (os.getProcessCpuTime() - cpu0) / 1e3;
            pool.shutdown();
            int n = conns * per;
            // CPU is the whole JVM's (client threads included): compare rows, the difference is signing.
            System.out.printf(Locale.ROOT, "%-14s %-6s %10.0f %10.1f %16.0f%n", name, size > 4096 ? "1 MiB" : "4 KiB",
                    n / s, n * (double) size / s / 1e6, cpu / n);
        }
    }

    static void send(IntakeHarness h, byte[] data, int conns, int per) throws Exception {
        try (RawSmtp c = h.connect()) {
            c.cmd("EHLO bench.test");
            byte[] withDot = new byte[data.length + 3];
            System.arraycopy(data, 0, withDot, 0, data.length);
            System.arraycopy(".\r\n".getBytes(StandardCharsets.US_ASCII), 0, withDot, data.length, 3);
            for (int i = 0; i < per; i++) {
                // Pipelined, and each batch in one write, so Nagle and delayed ACKs do not set the pace.
                c.send("MAIL FROM:<app@corp.example>\r\nRCPT TO:<user@x.example>\r\nDATA\r\n");
                expect(c.reply(), "250");
                expect(c.reply(), "250");
                expect(c.reply(), "354");
                c.send(withDot);
                expect(c.reply(), "250");
            }
            c.cmd("QUIT");
        }
    }

    static void expect(String reply, String code) {
        if (reply == null || !reply.startsWith(code)) {
            throw new IllegalStateException("want " + code + ", got " + reply);
        }
    }

    static byte[] message(int size) {
        StringBuilder b = new StringBuilder("From: App <app@corp.example>\r\nTo: user@x.example\r\n"
                + "Subject: bench\r\nMessage-ID: <bench@corp.example>\r\n\r\n");
        Random r = new Random(1);
        while (b.length() < size) {
            for (int i = 0; i < 70; i++) {
                b.append((char) ('a' + r.nextInt(26)));
            }
            b.append("\r\n");
        }
        b.setLength(size - 2);
        b.append("\r\n");
        return b.toString().getBytes(StandardCharsets.US_ASCII);
    }
}
