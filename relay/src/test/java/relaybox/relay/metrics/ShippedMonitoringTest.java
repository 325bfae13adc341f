package relaybox.relay.metrics;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLFactory;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.MutableClock;
import relaybox.queue.memory.InMemoryQueue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shipped Grafana dashboard and Prometheus alert rules parse, and every metric they name (and
 * every label they select on) is one that RelayMetrics really exposes: a renamed metric breaks
 * this test instead of silently emptying a panel or disarming an alert. With promtool installed
 * (Debian package "prometheus"), the rules also pass {@code promtool check rules} and their unit
 * tests in {@code relaybox-alerts.test.yml}.
 */
class ShippedMonitoringTest {

    static final Path ETC = Path.of("..", "etc");
    static final Path DASHBOARD = ETC.resolve("grafana/relaybox-dashboard.json");
    static final Path ALERTS = ETC.resolve("prometheus/relaybox-alerts.yml");
    static final Path ALERT_TESTS = ETC.resolve("prometheus/relaybox-alerts.test.yml");

    /** A metric name as exposed: our own, the JVM's and the process's. */
    private static final Pattern METRIC = Pattern.compile("\\b((?:relaybox|jvm|process|system)_[a-zA-Z0-9_]+)\\b(\\{[^}]*})?");
    private static final Pattern MATCHER = Pattern.compile("([a-zA-Z_][a-zA-Z0-9_]*)\\s*(?:=~|!~|!=|=)");
    private static final Pattern QUOTED = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"");

    /** Exposed metric name → the label names it carries. */
    private static final Map<String, Set<String>> EXPOSED = new HashMap<>();
    private static RelayMetrics metrics;

    @BeforeAll
    static void exposeEverything(@TempDir Path dir) throws Exception {
        metrics = new RelayMetrics();
        MutableClock clock = new MutableClock(Instant.parse("2026-11-22T10:00:00Z"));
        metrics.bindQueue(new InMemoryQueue(clock, relaybox.queue.RetrySchedule.DEFAULT), clock);
        metrics.bindStore(dir, 1);
        metrics.accepted(1);
        metrics.refused("size");
        metrics.delivered("u", 1);
        metrics.deferred("u", "4xx");
        metrics.failed("u", "5xx");
        metrics.connectionOpened("u");
        metrics.connectionClosed("u", 1);
        metrics.linkState("u", LinkState.UP);
        metrics.intakeLatency(Duration.ofMillis(1));
        metrics.endToEndLatency(Duration.ofMillis(1));
        metrics.dkimSigned("d");
        metrics.dkimFailed("error");
        new JamesMetricFactory(metrics).timer("SMTP-MAIL").stopAndPublish();
        // GC pause metrics appear only after a collection has been reported; ask for one and wait.
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(20);
        do {
            System.gc();
            read(metrics.scrape());
        } while (!EXPOSED.containsKey("jvm_gc_pause_seconds_sum") && System.nanoTime() < deadline);
    }

    @AfterAll
    static void close() {
        metrics.close();
    }

    private static void read(String exposition) {
        Pattern sample = Pattern.compile("^([a-zA-Z_:][a-zA-Z0-9_:]*)(\\{([^}]*)})? .*$");
        for (String line : exposition.split("\n")) {
            Matcher m = sample.matcher(line);
            if (line.startsWith("#") || !m.matches()) {
                continue;
            }
            Set<String> labels = EXPOSED.computeIfAbsent(m.group(1), k -> new HashSet<>());
            if (m.group(3) != null) {
                Matcher l = MATCHER.matcher(QUOTED.matcher(m.group(3)).replaceAll("\"\""));
                while (l.find()) {
                    labels.add(l.group(1));
                }
            }
        }
    }

    /** Problems with the metric names and selector labels in one PromQL expression. */
    static List<String> check(String where, String expr) {
        List<String> problems = new ArrayList<>();
        // Label values (regexes, legend text) may look like metric names; only names count.
        Matcher m = METRIC.matcher(expr.replaceAll("\\$__rate_interval", "5m"));
        boolean any = false;
        while (m.find()) {
            any = true;
            String name = m.group(1);
            if (!EXPOSED.containsKey(name)) {
                problems.add(where + ": " + name + " is not exposed");
                continue;
            }
            if (m.group(2) != null) {
                Matcher l = MATCHER.matcher(QUOTED.matcher(m.group(2)).replaceAll("\"\""));
                while (l.find()) {
                    String label = l.group(1);
                    if (!label.equals("instance") && !label.equals("job") && !EXPOSED.get(name).contains(label)) {
                        problems.add(where + ": " + name + " has no label " + label);
                    }
                }
            }
        }
        if (!any && !expr.startsWith("up{")) {
            problems.add(where + ": names no relaybox metric: " + expr);
        }
        return problems;
    }

    @Test
    void theCheckItselfCatchesMistakes() {
        assertFalse(check("t", "rate(relaybox_messages_delivered{upstream=\"x\"}[5m])").isEmpty());
        assertFalse(check("t", "relaybox_messages_failed_total{class=\"5xx\"}").isEmpty());
        assertTrue(check("t", "relaybox_messages_failed_total{reply_class=\"5xx\",instance=~\"$instance\"}").isEmpty());
    }

    @Test
    void dashboardParsesAndNamesOnlyRealMetrics() throws Exception {
        JsonNode dash = new ObjectMapper().readTree(DASHBOARD.toFile());
        assertEquals("relaybox", dash.get("uid").asText());
        List<String> problems = new ArrayList<>();
        int exprs = 0;
        Set<Integer> ids = new HashSet<>();
        for (JsonNode panel : dash.get("panels")) {
            assertTrue(ids.add(panel.get("id").asInt()), "duplicate panel id " + panel.get("id"));
            assertTrue(panel.has("gridPos"), panel.get("title").asText());
            if (panel.get("type").asText().equals("row")) {
                continue;
            }
            assertTrue(panel.get("targets").size() > 0, "panel without a query: " + panel.get("title"));
            for (JsonNode t : panel.get("targets")) {
                exprs++;
                problems.addAll(check(panel.get("title").asText(), t.get("expr").asText()));
            }
        }
        for (JsonNode v : dash.at("/templating/list")) {
            problems.addAll(check("variable " + v.get("name").asText(), v.at("/query/query").asText()));
        }
        assertEquals(List.of(), problems);
        assertTrue(exprs >= 20, "only " + exprs + " queries");
    }

    @Test
    void alertRulesParseAndNameOnlyRealMetrics() throws Exception {
        JsonNode rules = new ObjectMapper(new YAMLFactory()).readTree(ALERTS.toFile());
        List<String> problems = new ArrayList<>();
        Set<String> names = new HashSet<>();
        for (JsonNode group : rules.get("groups")) {
            for (JsonNode rule : group.get("rules")) {
                String alert = rule.get("alert").asText();
                assertTrue(names.add(alert), "duplicate alert " + alert);
                assertTrue(rule.at("/labels/severity").asText().matches("warning|critical"), alert);
                assertFalse(rule.at("/annotations/summary").asText().isEmpty(), alert);
                problems.addAll(check(alert, rule.get("expr").asText()));
            }
        }
        assertEquals(List.of(), problems);
        // The issue's three: queue age, link down, failures rising.
        assertTrue(names.containsAll(Set.of("RelayboxQueueOld", "RelayboxUpstreamDown", "RelayboxFailuresRising")),
                names.toString());
    }

    @Test
    void promtoolAcceptsTheRulesAndTheirUnitTests() throws Exception {
        String promtool = onPath("promtool");
        if (promtool == null) {
            System.err.println("promtool not installed (Debian package \"prometheus\"): skipping its checks");
            return;
        }
        run(promtool, "check", "rules", ALERTS.getFileName().toString());
        run(promtool, "test", "rules", ALERT_TESTS.getFileName().toString());
    }

    private static void run(String... command) throws Exception {
        Process p = new ProcessBuilder(command).directory(ALERTS.getParent().toFile()).redirectErrorStream(true)
                .start();
        boolean done = p.waitFor(60, TimeUnit.SECONDS);
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (!done) {
            p.destroyForcibly();
        }
        assertTrue(done && p.exitValue() == 0, String.join(" ", command) + ":\n" + out);
    }

    private static String onPath(String name) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            Path p = Path.of(dir, name);
            if (Files.isExecutable(p)) {
                return p.toString();
            }
        }
        return null;
    }
}
