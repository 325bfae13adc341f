package relaybox.queue.bench;

import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;

/**
 * Prints how many 4 KiB messages per second the MapDB queue accepts durably with N concurrent
 * writers (what the intake's sessions do), and how many commits that took; then how many
 * outcomes per second it records when the same number of threads lease and deliver them all
 * (what the forwarder's workers do; each delivery writes its journal record and dead mark).
 * Not a test.
 * Usage: QueueBench [dir] [threads] [messages]
 */
public final class QueueBench {
    private static void drain(MapDbQueue q, int threads, int total) throws Exception {
        java.util.concurrent.atomic.AtomicInteger done = new java.util.concurrent.atomic.AtomicInteger();
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        long t0 = System.nanoTime();
        for (int t = 0; t < threads; t++) {
            pool.submit(() -> {
                List<relaybox.queue.QueueEntry> leased;
                while (!(leased = q.leaseDue(java.time.Instant.now(), 8)).isEmpty()) {
                    for (relaybox.queue.QueueEntry e : leased) {
                        q.recordOutcome(e.id(), java.util.Map.of("c@d.example",
                                new relaybox.queue.DeliveryOutcome.Delivered("250 ok")), java.time.Instant.now());
                        done.incrementAndGet();
                    }
                }
                return null;
            });
        }
        pool.shutdown();
        pool.awaitTermination(1, TimeUnit.HOURS);
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("queue outcome: %d delivered, %d threads: %.0f outcomes/s recorded%n", done.get(), threads,
                done.get() / s);
    }

    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("queuebench");
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int total = args.length > 2 ? Integer.parseInt(args[2]) : 10_000;
        byte[] body = new byte[4096];
        java.util.Arrays.fill(body, (byte) 'x');
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, Clock.systemUTC())) {
            ExecutorService pool = Executors.newFixedThreadPool(threads);
            long t0 = System.nanoTime();
            for (int i = 0; i < total; i++) {
                pool.submit(() -> {
                    Queue.Incoming in = q.receive();
                    in.body().write(body);
                    return q.accept(in, Envelope.of("a@b.example", List.of("c@d.example")), "Received: x\r\n");
                });
            }
            pool.shutdown();
            pool.awaitTermination(1, TimeUnit.HOURS);
            double s = (System.nanoTime() - t0) / 1e9;
            System.out.printf("queue accept: %d x 4KiB, %d writers: %.0f msg/s durable, %d commits (%.1f msg/commit)%n",
                    total, threads, total / s, q.commitCount(), (double) total / q.commitCount());
            drain(q, threads, total);
        }
    }
}
