package relaybox.queue.depth;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The queue's depth is bounded by disk, not heap: a child JVM with a 64 MiB heap accepts
 * {@code relaybox.depth} (default 300,000) messages with nothing leased, stops cleanly, opens
 * again and drains everything in due order. Before the index moved to the store, every entry
 * lived in heap (about 1.5 KB each) and this child died of OutOfMemoryError near 40,000.
 * The heap figures are printed; the asserts leave wide room (64 MiB is the whole heap).
 */
class QueueDepthTest {

    private static final int N = Integer.getInteger("relaybox.depth", 300_000);

    @Test
    void aQueueDeeperThanTheHeapFillsReopensAndDrainsInOrder(@TempDir(cleanup = CleanupMode.ON_SUCCESS) Path dir)
            throws Exception {
        Map<String, String> fill = run("fill", dir);
        assertEquals("fill", fill.get("phase_done"), "the fill phase finished (no OutOfMemoryError)");
        Map<String, String> drain = run("drain", dir);
        assertEquals("drain", drain.get("phase_done"), "the drain phase finished");
        assertEquals(Integer.toString(N), drain.get("queued_at_open"), "every accepted message is queued after a restart");
        assertEquals(Integer.toString(N), drain.get("drained"));
        assertEquals("0", drain.get("out_of_order"), "leased in due order");
        assertEquals("0", drain.get("left"));
        double last = Double.parseDouble(fill.get("heap_mb"));
        assertTrue(last < 48, "heap after GC with " + N + " queued: " + last + " MiB");
    }

    /** Runs one phase of {@link DepthProbe} with -Xmx64m; returns its last value for each key. */
    private static Map<String, String> run(String phase, Path dir) throws IOException, InterruptedException {
        List<String> cmd = new ArrayList<>(List.of(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx64m", "-XX:+UseSerialGC", "-cp", System.getProperty("java.class.path"),
                DepthProbe.class.getName(), phase, dir.resolve("q").toString(), Integer.toString(N)));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        Map<String, String> out = new HashMap<>();
        try (BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), StandardCharsets.UTF_8))) {
            String line;
            while ((line = r.readLine()) != null) {
                System.out.println("depth " + phase + ": " + line);
                for (String kv : line.split(" ")) {
                    int eq = kv.indexOf('=');
                    if (eq > 0 && !kv.contains(":")) {
                        out.put(kv.substring(0, eq), kv.substring(eq + 1));
                    }
                }
            }
        }
        if (!p.waitFor(20, TimeUnit.MINUTES)) {
            p.destroyForcibly();
        }
        out.put("exit", Integer.toString(p.exitValue()));
        return out;
    }
}
