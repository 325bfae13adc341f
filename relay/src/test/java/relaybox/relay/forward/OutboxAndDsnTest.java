package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.config.UpstreamConfig;

import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The outbox upstream, DSN rate limiting and the token bucket. */
class OutboxAndDsnTest {

    private static final Duration WAIT = Duration.ofSeconds(10);

    @TempDir
    Path tmp;

    @AutoClose
    private final Harness h = new Harness();

    @Test
    void outboxWritesOneEmlPerMessage() throws Exception {
        Path dir = tmp.resolve("outbox");
        h.start(ForwardConfig.dev(dir));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example", "b@x.example"), Harness.message(1));
        byte[] queued;
        try (InputStream in = h.queue.openMessage(e.id())) {
            queued = in.readAllBytes();
        }
        h.await("written", WAIT, () -> h.lines.contains(e.id() + " queue removed"));
        Path eml = dir.resolve(e.id() + ".eml");
        String prefix = "Return-Path: <app@corp.example>\r\nX-Relaybox-To: <a@x.example>, <b@x.example>\r\n";
        byte[] got = Files.readAllBytes(eml);
        assertEquals(prefix, new String(got, 0, prefix.length(), java.nio.charset.StandardCharsets.US_ASCII));
        assertArrayEquals(queued, java.util.Arrays.copyOfRange(got, prefix.length(), got.length));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(List.of(eml), files.toList(), "no temporary files left");
        }
        assertEquals(2, h.linesWith(" forward delivered ").size());
    }

    @Test
    void dsnsAreRateLimited() throws Exception {
        try (FakeEsp esp = new FakeEsp().start()) {
            esp.reply("RCPT", "550 5.1.1 no such user", 5);
            ForwardConfig base = Harness.config(1, new Harness.Up("esp", esp.port()).build());
            ForwardConfig cfg = new ForwardConfig(base.concurrency(), base.idleTimeout(), base.noopInterval(),
                    base.connectTimeout(), base.greetingTimeout(), base.commandTimeout(), base.dataTimeout(),
                    base.probeInterval(), base.heloName(), true, 2, base.upstreams());
            h.start(cfg);
            for (int i = 0; i < 5; i++) {
                h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(i));
            }
            h.await("5 failed, 2 DSNs delivered", WAIT, () -> esp.received.size() == 2
                    && h.queue.list().stream().filter(e -> e.state() == EntryState.FAILED).count() == 5);
            assertEquals(3, h.linesWith(" forward dsn-skipped ").size(), h.lines.toString());
        }
    }

    @Test
    void tokenBucketSpacesMessages() throws Exception {
        TokenBucket b = new TokenBucket(50);
        long t0 = System.nanoTime();
        for (int i = 0; i < 60; i++) {
            b.acquire();
        }
        // 50 tokens to start with, then 10 more at 50/s: at least ~200ms. A lower bound only,
        // because a slow machine may take longer but never less.
        long ms = (System.nanoTime() - t0) / 1_000_000;
        assertTrue(ms >= 150, "60 tokens at 50/s took " + ms + "ms");
    }

    @Test
    void devConfigIsOneOutbox() {
        ForwardConfig d = ForwardConfig.dev(tmp);
        assertEquals(List.of(UpstreamConfig.outbox(tmp)), d.upstreams());
    }
}
