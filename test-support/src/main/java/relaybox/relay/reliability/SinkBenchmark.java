package relaybox.relay.reliability;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.concurrent.TimeUnit;

/**
 * The benchmark's upstream process (bench/run.sh, bench/depth-daemon.sh, started as
 * {@code UpstreamSink PORT STATUS_FILE [ARRIVALS_FILE [DOWN_FILE]]}): an {@link UpstreamSink} whose
 * counters and arrivals go to files, and whose outages follow a file. Every 100 ms it writes
 * "messages connections bytes" to STATUS_FILE (renamed into place, so a reader never sees half a
 * file) and appends "id arrival-epoch-nanos" lines to ARRIVALS_FILE for X-Bench-Id messages (the
 * latency client writes the matching 250 times). While DOWN_FILE exists the sink is down:
 * connections are refused and open ones closed, and counters keep their values.
 */
final class SinkBenchmark {

    private SinkBenchmark() {
    }

    static void run(String[] a) throws Exception {
        int port = Integer.parseInt(a[0]);
        Path status = Path.of(a[1]);
        Path arrivalsFile = a.length > 2 ? Path.of(a[2]) : null;
        Path downFile = a.length > 3 ? Path.of(a[3]) : null;
        UpstreamSink sink = new UpstreamSink().start(port);
        boolean listening = true;
        long nextStatus = 0;
        while (true) {
            boolean wantDown = downFile != null && Files.exists(downFile);
            if (wantDown) {
                // Again each round: a connection accepted just as the outage began is dropped too.
                sink.stop();
                listening = false;
            } else if (!wantDown && !listening) {
                sink.start(port);
                listening = true;
            }
            if (System.nanoTime() >= nextStatus) {
                nextStatus = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(100);
                Path next = status.resolveSibling(status.getFileName() + ".new");
                Files.writeString(next,
                        sink.messages.get() + " " + sink.connections.get() + " " + sink.bytes.get() + "\n");
                Files.move(next, status, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
                String got = sink.takeArrivals();
                if (arrivalsFile != null && !got.isEmpty()) {
                    Files.writeString(arrivalsFile, got, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                }
            }
            Thread.sleep(10);
        }
    }
}
