package relaybox.relay.intake;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A 50 MiB message through the intake in a child JVM whose heap (64 MiB) cannot hold it: the
 * message must be streamed to the spool, never buffered. The control run with the in-memory
 * queue, which does buffer, must fail in the same JVM size, which shows the cap is tight enough.
 */
class LargeMessageTest {

    static final long SIZE = 50L << 20;
    static final String HEAP = "-Xmx64m";

    @TempDir
    Path dir;

    private Result probe(String... args) throws Exception {
        List<String> cmd = new java.util.ArrayList<>(List.of(
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), HEAP,
                "-cp", System.getProperty("java.class.path"), LowHeapProbe.class.getName(), String.valueOf(SIZE)));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(p.waitFor(120, TimeUnit.SECONDS), "probe did not finish: " + out);
        return new Result(p.exitValue(), out);
    }

    private record Result(int exit, String out) { }

    @Test
    void fiftyMebibytesStreamIntoTheSpoolWithA64MiBHeap() throws Exception {
        Result r = probe("mapdb", dir.resolve("queue").toString());
        assertEquals(0, r.exit(), r.out());
        java.util.regex.Matcher m = java.util.regex.Pattern.compile("OK size=(\\d+)").matcher(r.out());
        assertTrue(m.find(), r.out());
        assertTrue(Long.parseLong(m.group(1)) > SIZE - 1000, r.out());
    }

    @Test
    void controlTheSameMessageBufferedInHeapDoesNotFit() throws Exception {
        Result r = probe("memory");
        assertNotEquals(0, r.exit(), "the heap cap is too loose to prove streaming: " + r.out());
    }
}
