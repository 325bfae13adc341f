package relaybox.queue.bench;

import relaybox.queue.depth.DepthProbe;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * The deep-queue benchmark of issue 16: a queue far deeper than the heap, in child JVMs with the
 * packaged {@code -Xmx256m}, nothing leased (the upstream is down). Prints, one line per figure:
 * heap after a full GC every {@code step} messages up to {@code total}; the open time after a
 * clean stop; the open time after a kill -9 in the middle of accepting; the time a listing takes
 * to its first entry and to its end; and the drain rate (lease and deliver, queue only, no SMTP),
 * with a check that everything leaves in due order. A program, not a test.
 *
 * <p>Usage: {@code DepthBench [dir] [total] [step]} (defaults: a temp dir, 2,000,000, 500,000).
 */
public final class DepthBench {

    public static void main(String[] args) throws Exception {
        Path dir = args.length > 0 ? Path.of(args[0]) : Files.createTempDirectory("depthbench");
        int total = args.length > 1 ? Integer.parseInt(args[1]) : 2_000_000;
        int step = args.length > 2 ? Integer.parseInt(args[2]) : 500_000;
        Path q = dir.resolve("q");
        System.out.println("depth bench: " + total + " x 1 KiB into " + q + ", -Xmx256m");
        run("fill", q, total, step);
        run("open", q, total, step);
        Process crash = start("crash", q, total, 10_000);
        pipe(crash, "crash", 3);
        crash.destroyForcibly().waitFor();
        System.out.println("crash: killed with SIGKILL while accepting");
        run("open", q, total, step);
        run("drain", q, total, step);
    }

    private static void run(String phase, Path q, int total, int step) throws IOException, InterruptedException {
        Process p = start(phase, q, total, step);
        pipe(p, phase, 0);
        if (p.waitFor() != 0) {
            throw new IllegalStateException(phase + " failed with exit code " + p.exitValue());
        }
    }

    private static Process start(String phase, Path q, int total, int step) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m", "-cp", System.getProperty("java.class.path"), DepthProbe.class.getName(), phase,
                q.toString(), Integer.toString(total), Integer.toString(step)));
        return new ProcessBuilder(cmd).redirectErrorStream(true).start();
    }

    /** Prints the child's lines; with {@code lines} > 0, returns after that many accept lines. */
    private static void pipe(Process p, String phase, int lines) throws IOException {
        BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8));
        String line;
        int n = 0;
        long t0 = System.nanoTime();
        while ((line = r.readLine()) != null) {
            System.out.printf("%-6s %6.1fs  %s%n", phase, (System.nanoTime() - t0) / 1e9, line);
            if (lines > 0 && line.startsWith("accepted=") && ++n >= lines) {
                return;
            }
        }
        p.onExit().orTimeout(1, TimeUnit.MINUTES);
    }
}
