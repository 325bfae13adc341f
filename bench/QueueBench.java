import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

import java.lang.management.ManagementFactory;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.locks.LockSupport;

/**
 * The durable queue alone, without SMTP: THREADS writers each receive a 4 KiB message, accept it
 * and wait until it is durable (the moment the intake would answer 250), then, if THINK_US is
 * set, pause that long (an SMTP client's round trips between two messages). Prints accepted
 * messages/s, the accept latency (end of message to durable) and the process CPU per message,
 * after a warm-up, for the queue directory given (use the disk the queue will live on).
 *
 *   java -cp 'admin-cli/target/lib/*' bench/QueueBench.java /var/tmp/qbench [THREADS [SECONDS [THINK_US]]]
 */
public final class QueueBench {

    public static void main(String[] args) throws Exception {
        if (args.length < 1) {
            System.err.println("usage: QueueBench DIR [THREADS=10] [SECONDS=10] [THINK_US=0]");
            System.exit(2);
        }
        Path dir = Path.of(args[0]);
        int threads = args.length > 1 ? Integer.parseInt(args[1]) : 10;
        int seconds = args.length > 2 ? Integer.parseInt(args[2]) : 10;
        long thinkNanos = args.length > 3 ? Long.parseLong(args[3]) * 1000 : 0;
        if (Files.exists(dir)) {
            System.err.println(dir + " exists; give a new directory");
            System.exit(2);
        }
        byte[] body = new byte[4096];
        Arrays.fill(body, (byte) 'x');
        Envelope envelope = Envelope.of("app@example.org", List.of("rcpt@example.net"));
        AtomicBoolean measuring = new AtomicBoolean();
        AtomicBoolean stop = new AtomicBoolean();
        ConcurrentLinkedQueue<long[]> latencies = new ConcurrentLinkedQueue<>();
        List<Thread> writers = new ArrayList<>();
        try (MapDbQueue queue = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, Clock.systemUTC())) {
            for (int i = 0; i < threads; i++) {
                Thread t = new Thread(() -> {
                    long[] mine = new long[1 << 16];
                    int n = 0;
                    try {
                        while (!stop.get()) {
                            Queue.Incoming in = queue.receive();
                            in.body().write(body);
                            long start = System.nanoTime();
                            queue.accept(in, envelope, "");
                            long took = System.nanoTime() - start;
                            if (measuring.get()) {
                                if (n == mine.length) {
                                    mine = Arrays.copyOf(mine, n * 2);
                                }
                                mine[n++] = took;
                            }
                            if (thinkNanos > 0) {
                                LockSupport.parkNanos(thinkNanos);
                            }
                        }
                    } catch (Exception e) {
                        e.printStackTrace();
                        stop.set(true);
                    }
                    latencies.add(Arrays.copyOf(mine, n));
                }, "writer-" + i);
                t.start();
                writers.add(t);
            }
            Thread.sleep(5_000);
            var os = (com.sun.management.OperatingSystemMXBean) ManagementFactory.getOperatingSystemMXBean();
            long cpu0 = os.getProcessCpuTime();
            long t0 = System.nanoTime();
            measuring.set(true);
            Thread.sleep(seconds * 1000L);
            measuring.set(false);
            long t1 = System.nanoTime();
            long cpu1 = os.getProcessCpuTime();
            stop.set(true);
            for (Thread t : writers) {
                t.join();
            }
            long[] all = latencies.stream().flatMapToLong(Arrays::stream).sorted().toArray();
            if (all.length == 0) {
                System.err.println("nothing was accepted");
                System.exit(1);
            }
            System.out.printf("queue: %d threads, think %d us: %d msg/s accepted durably, accept p50 %.0f us,"
                            + " p99 %.0f us, process CPU %.0f us/msg; %s%n",
                    threads, thinkNanos / 1000, Math.round(all.length / ((t1 - t0) / 1e9)),
                    all[all.length / 2] / 1e3, all[(int) (all.length * 0.99)] / 1e3,
                    (cpu1 - cpu0) / 1e3 / all.length, queue.commitStats());
        }
    }
}
