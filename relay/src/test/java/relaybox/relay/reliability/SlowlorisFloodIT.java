package relaybox.relay.reliability;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Issue 17: with the DEFAULT intake configuration and the packaged heap (-Xmx256m), 200 idle and
 * 50 slowloris connections from another network (a network namespace: four addresses of one /24,
 * outside intake_networks), each opened again a second after the daemon closes it, must not keep
 * a local client out: a loopback client sends every message, typically in well under a second (median < 1 s, each < 5 s). Prints
 * each transaction's time (connect to 250) and what the flood got. Needs root (namespaces) and
 * python3; skipped otherwise.
 */
class SlowlorisFloodIT {

    private static final int IDLE = 200;
    private static final int SLOWLORIS = 50;
    private static final int MESSAGES = Integer.getInteger("slowloris.messages", 20);

    @TempDir
    Path dir;

    private static boolean full(String log) {
        return log.contains("to make room for") || log.contains("refusing connection from");
    }

    @Test
    void aLoopbackClientIsServedInUnderASecondDuringTheFlood() throws Exception {
        assumeTrue(new File("/usr/bin/python3").canExecute(), "python3 is not installed");
        try (Netns net = Netns.create(4)) {
            assumeTrue(net != null, "network namespaces need root");
            Path config = dir.resolve("relaybox.conf");
            Path script = dir.resolve("flood.py");
            try (var in = SlowlorisFloodIT.class.getResourceAsStream("flood.py")) {
                Files.copy(in, script);
            }
            int port = DaemonProcess.freePort();
            try (UpstreamSink sink = new UpstreamSink().start();
                 DaemonProcess daemon = new DaemonProcess(config, dir.resolve("daemon.log"), port,
                         List.of("-Xmx256m", "-XX:+ExitOnOutOfMemoryError"))) {
                // Default intake settings; only where it listens is set (loopback and the veth).
                Files.writeString(config, DaemonProcess.baseConfig(dir, dir.resolve("queue"), port, sink.port(), "")
                        .replace("intake_listen = [\"127.0.0.1:" + port + "\"]",
                                "intake_listen = [\"127.0.0.1:" + port + "\", \"" + net.hostV4() + ":" + port + "\"]"));
                daemon.start(Duration.ofSeconds(60));
                // A daemon in service has run its intake before: the first message of a fresh JVM
                // loads and compiles the whole path, which is not what this test measures.
                try (SmtpSender s = new SmtpSender(port, 10_000)) {
                    s.hello();
                    assertTrue(s.send("warm-up", 1024).startsWith("250"));
                }
                long floodSeconds = MESSAGES + 40;
                Process flood = net.start(dir.resolve("flood.log").toFile(), "/usr/bin/python3", script.toString(),
                        net.hostV4(), String.valueOf(port), String.valueOf(IDLE), String.valueOf(SLOWLORIS),
                        String.valueOf(floodSeconds), String.join(",", net.v4()));
                try {
                    // The flood has filled the intake once sessions are displaced or connections refused.
                    long until = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
                    while (!full(daemon.currentLog()) && System.nanoTime() < until) {
                        Thread.sleep(100);
                    }
                    assertTrue(full(daemon.currentLog()),
                            "the flood never filled the intake:\n" + DaemonProcess.tail(daemon.currentLog(), 3000));
                    // Measured once the flood stands: the script opens all 250 connections within
                    // a fraction of a second, and a client arriving in that same instant waits for
                    // the daemon to accept them (up to 1.8 s at load average 32 on two cores).
                    // Everything after it counts: displacements, the pressure deadlines' waves of
                    // closes and the reconnects they cause.
                    Thread.sleep(3000);

                    long[] millis = new long[MESSAGES];
                    List<String> replies = new ArrayList<>();
                    for (int i = 0; i < MESSAGES; i++) {
                        long t0 = System.nanoTime();
                        try (SmtpSender s = new SmtpSender(port, 10_000)) {
                            String greeting = s.hello();
                            replies.add(greeting.startsWith("220") ? s.send("local-" + i, 1024) : greeting);
                        }
                        millis[i] = (System.nanoTime() - t0) / 1_000_000;
                        Thread.sleep(1000);
                    }
                    assertTrue(flood.isAlive(), "the flood ended before the local client was done");
                    assertTrue(flood.waitFor(floodSeconds + 30, TimeUnit.SECONDS));
                    String floodStats = Files.readString(dir.resolve("flood.log")).trim();
                    String log = daemon.currentLog();
                    long[] sorted = millis.clone();
                    Arrays.sort(sorted);
                    System.out.printf("SlowlorisFloodIT: default limits (intake_max_connections=200, per client 100 "
                                    + "outside intake_networks, pressure timeout 10s), -Xmx256m; flood %d idle + %d "
                                    + "slowloris from %s, reopened 1 s after each close: %s; loopback client (connect to 250) ms=%s, median %d, max %d; "
                                    + "daemon VmHWM=%d MiB%n", IDLE, SLOWLORIS, net.v4(), floodStats,
                            Arrays.toString(millis), sorted[sorted.length / 2], sorted[sorted.length - 1],
                            daemon.peakRssKib() >> 10);
                    assertTrue(replies.stream().allMatch(r -> r.startsWith("250")), replies.toString());
                    // What the flood must not do is hold the client until a slot frees (a pressure
                    // deadline, 10 s) or refuse it: every transaction is bounded well below that, and
                    // the typical one is fast. The figures above are the measurement; the bounds
                    // leave room for a shared CI machine's pauses.
                    for (int i = 0; i < millis.length; i++) {
                        assertTrue(millis[i] < 5000, "message " + i + " took " + millis[i] + " ms: "
                                + Arrays.toString(millis));
                    }
                    assertTrue(sorted[sorted.length / 2] < 1000, "median " + sorted[sorted.length / 2] + " ms: "
                            + Arrays.toString(millis));
                    assertTrue(daemon.alive());
                    assertTrue(!log.contains("OutOfMemoryError"));
                } finally {
                    flood.destroyForcibly();
                }
            }
        }
    }
}
