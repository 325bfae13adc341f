package relaybox.queue.depth;

import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.Queue;
import relaybox.queue.QueueEntry;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryMXBean;
import java.nio.file.Path;
import java.time.Clock;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

/**
 * The child JVM of {@link QueueDepthTest}: one phase of a deep-queue run against a real
 * {@link MapDbQueue}, with whatever heap the parent gave it. Prints one "key=value" line per
 * figure, which the parent parses; a phase that runs out of memory exits non-zero.
 *
 * <pre>
 * fill  DIR N   accepts N 1 KiB messages (the upstream is down: nothing is leased), heap after GC
 *               at every tenth; then closes cleanly
 * drain DIR N   reopens (printing the open time), checks the count, then leases and delivers
 *               everything, checking that leases come in due order
 * open DIR N    reopens, prints the open time, the counts, and how long a listing takes to its
 *               first entry and to its end (for DepthBench)
 * crash DIR N   accepts until killed (DepthBench kills it with SIGKILL)
 * </pre>
 * An optional fourth argument is the step between heap figures (default N / 10).
 */
public final class DepthProbe {

    public static void main(String[] args) throws Exception {
        String phase = args[0];
        Path dir = Path.of(args[1]);
        int n = Integer.parseInt(args[2]);
        long t0 = System.nanoTime();
        try (MapDbQueue q = MapDbQueue.open(dir, 0, RetrySchedule.DEFAULT, Clock.systemUTC())) {
            long opened = System.nanoTime();
            System.out.printf("open_ms=%d%n", (opened - t0) / 1_000_000);
            if (phase.equals("open")) {
                // The open returns before a cross-check after a kill has run: the first accept
                // shows when intake could answer again, the check's end how long it ran beside it.
                byte[] one = new byte[1024];
                Queue.Incoming in = q.receive();
                in.body().write(one);
                q.accept(in, Envelope.of("app@example.org", List.of("first@example.net")), "Received: depth\r\n");
                System.out.printf("first_accept_ms=%d cross_check_running=%b%n", (System.nanoTime() - t0) / 1_000_000,
                        !q.crossCheck().isDone());
                boolean ran = q.crossCheck().get();
                System.out.printf("cross_check_done_ms=%d (after the open returned; %s)%n",
                        (System.nanoTime() - opened) / 1_000_000, ran ? "checked" : "none needed");
            }
            System.out.printf("heap_mb_open=%.1f%n", heapAfterGc());
            int step = args.length > 3 ? Integer.parseInt(args[3]) : Math.max(1, n / 10);
            switch (phase) {
                case "fill" -> fill(q, n, step);
                case "crash" -> fill(q, Integer.MAX_VALUE, step);
                case "open" -> list(q);
                default -> drain(q, n);
            }
        }
        System.out.println("phase_done=" + phase);
        System.out.flush();
    }

    private static void list(Queue q) {
        System.out.println("counts=" + q.counts().toString().replace(" ", ""));
        long t0 = System.nanoTime();
        long[] first = {-1};
        long[] n = {0};
        q.scan(relaybox.queue.QueueFilter.ALL, e -> {
            if (first[0] < 0) {
                first[0] = System.nanoTime() - t0;
            }
            n[0]++;
            return true;
        });
        System.out.printf("list_first_ms=%.1f list_all_ms=%d listed=%d heap_mb=%.1f%n", first[0] / 1e6,
                (System.nanoTime() - t0) / 1_000_000, n[0], heapAfterGc());
    }

    private static void fill(Queue q, int n, int step) throws Exception {
        byte[] body = new byte[1024];
        java.util.Arrays.fill(body, (byte) 'x');
        ExecutorService pool = Executors.newFixedThreadPool(32);
        long t0 = System.nanoTime();
        for (int done = 0; done < n; ) {
            int batch = Math.min(step, n - done);
            List<Future<QueueEntry>> fs = new ArrayList<>(batch);
            for (int i = 0; i < batch; i++) {
                int k = done + i;
                fs.add(pool.submit(() -> {
                    Queue.Incoming in = q.receive();
                    in.body().write(body);
                    return q.accept(in, Envelope.of("app@example.org", List.of("rcpt" + (k % 1000) + "@example.net")),
                            "Received: depth\r\n");
                }));
            }
            for (Future<QueueEntry> f : fs) {
                f.get();
            }
            done += batch;
            long total = q.counts().get(EntryState.QUEUED);
            System.out.printf("accepted=%d queued=%d heap_mb=%.1f rate=%.0f%n", done, total, heapAfterGc(),
                    done / ((System.nanoTime() - t0) / 1e9));
        }
        pool.shutdown();
        pool.awaitTermination(1, TimeUnit.MINUTES);
    }

    private static void drain(Queue q, int n) throws Exception {
        long queued = q.counts().get(EntryState.QUEUED);
        System.out.println("queued_at_open=" + queued);
        long t0 = System.nanoTime();
        long delivered = 0;
        long outOfOrder = 0;
        Instant lastDue = Instant.EPOCH;
        int step = Math.max(1, n / 10);
        while (true) {
            List<QueueEntry> got = q.leaseDue(Instant.now(), 64);
            if (got.isEmpty()) {
                break;
            }
            for (QueueEntry e : got) {
                if (e.nextAttemptAt().isBefore(lastDue)) {
                    outOfOrder++;
                }
                lastDue = e.nextAttemptAt();
                q.recordOutcome(e.id(), Map.of(e.pendingRecipients().get(0), new DeliveryOutcome.Delivered("250 ok")),
                        Instant.now());
                delivered++;
                if (delivered % step == 0) {
                    System.out.printf("delivered=%d heap_mb=%.1f%n", delivered, heapAfterGc());
                }
            }
        }
        double s = (System.nanoTime() - t0) / 1e9;
        System.out.printf("drained=%d out_of_order=%d drain_rate=%.0f left=%d%n", delivered, outOfOrder, delivered / s,
                q.counts().get(EntryState.QUEUED));
    }

    static double heapAfterGc() {
        MemoryMXBean m = ManagementFactory.getMemoryMXBean();
        System.gc();
        System.gc();
        return m.getHeapMemoryUsage().getUsed() / 1048576.0;
    }
}
