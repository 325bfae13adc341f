package relaybox.relay.metrics.bench;

import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.memory.InMemoryQueue;
import relaybox.relay.metrics.RelayMetrics;

import java.nio.charset.StandardCharsets;
import java.time.Clock;
import java.time.Duration;
import java.util.List;
import java.util.Locale;

/**
 * Prints what metrics cost: nanoseconds per event call on the hot paths, and the time of one
 * scrape with a queue of N entries (the oldest-age gauge walks Queue.list()). A program, not a
 * test: run with
 * {@code java -cp relay/target/test-classes:relay/target/classes:queue/target/classes:$(deps) relaybox.relay.metrics.bench.MetricsBench}.
 * Single runs on a shared machine: orders of magnitude only.
 */
public final class MetricsBench {

    public static void main(String[] args) throws Exception {
        try (RelayMetrics m = new RelayMetrics()) {
            int n = 2_000_000;
            for (int round = 0; round < 3; round++) {
                long t0 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    m.accepted(1000);
                }
                long t1 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    m.delivered("ses", 1000);
                }
                long t2 = System.nanoTime();
                for (int i = 0; i < n; i++) {
                    m.intakeLatency(Duration.ofNanos(1_500_000));
                }
                long t3 = System.nanoTime();
                System.out.printf(Locale.ROOT, "round %d: accepted %.0f ns, delivered %.0f ns, intakeLatency %.0f ns per call%n",
                        round, (t1 - t0) / (double) n, (t2 - t1) / (double) n, (t3 - t2) / (double) n);
            }
        }
        for (int entries : new int[]{1_000, 10_000, 100_000}) {
            try (RelayMetrics m = new RelayMetrics(); InMemoryQueue q = new InMemoryQueue()) {
                for (int i = 0; i < entries; i++) {
                    Queue.Incoming in = q.receive();
                    in.body().write("x\r\n".getBytes(StandardCharsets.US_ASCII));
                    q.accept(in, Envelope.of("a@b.example", List.of("c@d.example")), "");
                }
                m.bindQueue(q, Clock.systemUTC());
                m.scrape();
                long best = Long.MAX_VALUE;
                for (int i = 0; i < 10; i++) {
                    long t0 = System.nanoTime();
                    m.scrape();
                    best = Math.min(best, System.nanoTime() - t0);
                }
                System.out.printf(Locale.ROOT, "scrape with %,d queued entries: %.2f ms (best of 10)%n", entries, best / 1e6);
            }
        }
    }
}
