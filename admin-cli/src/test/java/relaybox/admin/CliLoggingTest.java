package relaybox.admin;

import ch.qos.logback.classic.LoggerContext;
import ch.qos.logback.classic.joran.JoranConfigurator;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Where the shipped logback.xml writes, as {@link Main#logging} sets it up: client commands to
 * stderr (stdout is their output), the daemon to stdout, with a timestamp in the foreground and
 * without one under systemd (the journal stamps lines itself).
 */
class CliLoggingTest {

    private static final String TARGET = "relaybox.log.target";
    private static final String TIME = "relaybox.log.time";

    @AfterEach
    void clear() {
        System.clearProperty(TARGET);
        System.clearProperty(TIME);
    }

    @Test
    void clientCommandsLogToStderrWithoutTime() {
        Main.logging(new String[]{"queue", "list"}, Map.of());
        assertEquals("System.err", System.getProperty(TARGET));
        assertNull(System.getProperty(TIME));
    }

    @Test
    void underSystemdTheDaemonLeavesTheTimeToTheJournal() {
        Main.logging(new String[]{"run", "--config", "x"}, Map.of("INVOCATION_ID", "abc"));
        assertEquals("System.out", System.getProperty(TARGET));
        assertNull(System.getProperty(TIME));
        clear();
        Main.logging(new String[]{"run"}, Map.of("JOURNAL_STREAM", "8:123"));
        assertNull(System.getProperty(TIME));
    }

    @Test
    void theForegroundDaemonStampsEachLine() throws Exception {
        Main.logging(new String[]{"run", "--dev"}, Map.of());
        String line = logOneLine();
        assertTrue(line.matches("\\d{4}-\\d\\d-\\d\\d \\d\\d:\\d\\d:\\d\\d\\.\\d{3} INFO  LogSetupTest: hello\\R?"), line);
        clear();
        Main.logging(new String[]{"run"}, Map.of("INVOCATION_ID", "abc"));
        assertEquals("INFO  LogSetupTest: hello", logOneLine().strip());
    }

    /** One INFO line through the shipped logback.xml, as written to stdout. */
    private static String logOneLine() throws Exception {
        LoggerContext ctx = new LoggerContext();
        ctx.setMDCAdapter(new ch.qos.logback.classic.util.LogbackMDCAdapter());
        JoranConfigurator j = new JoranConfigurator();
        j.setContext(ctx);
        PrintStream was = System.out;
        ByteArrayOutputStream buf = new ByteArrayOutputStream();
        System.setOut(new PrintStream(buf, true, StandardCharsets.UTF_8));
        try {
            j.doConfigure(Path.of("../relay/src/main/resources/logback.xml").toFile());
            ctx.getLogger("LogSetupTest").info("hello");
        } finally {
            ctx.stop();
            System.setOut(was);
        }
        return buf.toString(StandardCharsets.UTF_8);
    }
}
