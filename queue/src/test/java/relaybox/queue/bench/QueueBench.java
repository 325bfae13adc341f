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
 * writers (what the intake's sessions do), and how many commits that took. Not a test.
 * Usage: QueueBench [dir] [threads] [messages]
 */
public final class QueueBench {
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
        }
    }
}
