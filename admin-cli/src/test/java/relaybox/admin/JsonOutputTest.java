package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.QueueEntry;
import relaybox.relay.control.ControlJson;
import relaybox.relay.forward.UpstreamTester;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * With {@code --json}, standard output is JSON Lines and nothing else, for every list, show and
 * stats command, over the control socket and with {@code --offline}; logs of client commands go
 * to stderr. The offline run is a child JVM with the shipped logback.xml, because that is where
 * "INFO MapDbQueue: queue opened" used to reach stdout and break jq.
 */
class JsonOutputTest {

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path tmp;

    /** Every non-empty line of {@code out} parses as one JSON value; returns them. */
    private static List<JsonNode> jsonLines(AdminHarness.Result r) throws Exception {
        assertEquals(0, r.code(), r.toString());
        List<JsonNode> out = new ArrayList<>();
        for (String line : r.out().split("\n")) {
            if (!line.isEmpty()) {
                try {
                    out.add(ControlJson.MAPPER.readTree(line));
                } catch (java.io.IOException e) {
                    throw new AssertionError("not a JSON line: " + line + "\n" + r, e);
                }
            }
        }
        assertFalse(out.isEmpty(), r.toString());
        return out;
    }

    @Test
    void everyJsonCommandPrintsOnlyJsonLines() throws Exception {
        try (AdminHarness h = new AdminHarness(tmp)) {
            QueueEntry a = h.accept("app@corp.example", "a@x.example");
            h.accept("app@corp.example", "b@x.example", "c@y.example");
            h.probes = List.of(new UpstreamTester.Probe("esp", List.of(new UpstreamTester.Step("connect", true, "ok", 1))));
            assertEquals(2, jsonLines(h.run("queue", "list", "--json")).size());
            assertEquals(a.id().value(), jsonLines(h.run("queue", "show", a.id().value(), "--json")).get(0)
                    .get("id").asText());
            assertEquals(1, jsonLines(h.run("queue", "stats", "--json")).size());
            assertEquals(1, jsonLines(h.run("status", "--json")).size());
            assertEquals(1, jsonLines(h.run("upstream", "test", "--json")).size());
            assertEquals(1, jsonLines(h.run("queue", "hold", a.id().value(), "--json")).size());
        }
    }

    @Test
    void offlineJsonKeepsLogsOffStdout() throws Exception {
        QueueEntry a;
        try (AdminHarness h = new AdminHarness(tmp)) {
            a = h.accept("app@corp.example", "a@x.example");
            h.accept("app@corp.example", "b@x.example");
        }
        Path dir = tmp.resolve("queue");
        AdminHarness.Result list = child("queue", "list", "--offline", "--queue-dir", dir.toString(), "--json");
        assertEquals(2, jsonLines(list).size());
        assertTrue(list.err().contains("queue opened"), "the log goes to stderr: " + list);
        AdminHarness.Result show = child("queue", "show", a.id().value(), "--offline", "--queue-dir", dir.toString(),
                "--json");
        assertEquals(1, jsonLines(show).size());
    }

    private AdminHarness.Result child(String... args) throws Exception {
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        // The shipped logback.xml, not the tests' one, as an installed relaybox runs.
        String logback = Path.of("../relay/src/main/resources/logback.xml").toAbsolutePath().normalize().toString();
        List<String> cmd = new ArrayList<>(List.of(java, "-Dlogback.configurationFile=" + logback, "-cp", cp,
                "relaybox.admin.Main"));
        cmd.addAll(List.of(args));
        Path out = tmp.resolve("out.txt");
        Path err = tmp.resolve("err.txt");
        Process p = new ProcessBuilder(cmd).redirectOutput(out.toFile()).redirectError(err.toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        return new AdminHarness.Result(p.exitValue(), Files.readString(out), Files.readString(err));
    }
}
