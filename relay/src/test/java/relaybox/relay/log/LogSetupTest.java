package relaybox.relay.log;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import relaybox.queue.QueueId;
import relaybox.relay.config.LogConfig;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LogSetupTest {

    private final PrintStream stdout = System.out;

    LogSetupTest() {
        // Let logback initialise (and print any status of its own) before stdout is captured.
        LoggerFactory.getILoggerFactory();
    }

    @AfterEach
    void restore() {
        System.setOut(stdout);
        // Back to the test configuration, so other test classes in this JVM log as before.
        LogSetup.load("logback-test.xml");
    }

    @Test
    void jsonFormatWritesOneParseableObjectPerLine() throws Exception {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        // ConsoleAppender writes to whatever System.out is at the time of each write.
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        LogSetup.apply(new LogConfig(LogConfig.JSON));
        QueueId id = QueueId.parse("0000000000AB");
        new MailLog().failed(id, "c@z.example", "esp[203.0.113.7]:587", 1, "RCPT",
                "550 5.1.1 \"No such user\" \\ x");
        LoggerFactory.getLogger("relaybox.test").warn("two\nlines and a tab\t{}", "arg",
                new IllegalStateException("boom"));

        List<String> lines = captured.toString(StandardCharsets.UTF_8).lines().filter(l -> !l.isBlank()).toList();
        assertEquals(2, lines.size(), captured.toString(StandardCharsets.UTF_8));
        ObjectMapper json = new ObjectMapper();
        JsonNode mail = json.readTree(lines.get(0));
        assertEquals("INFO", mail.get("level").asText());
        assertEquals("relaybox.mail", mail.get("loggerName").asText());
        assertEquals("0000000000AB forward failed to=<c@z.example> upstream=esp[203.0.113.7]:587 attempt=1 "
                + "stage=RCPT reply=\"550 5.1.1 \\\"No such user\\\" \\\\ x\"", mail.get("formattedMessage").asText());
        assertTrue(mail.get("timestamp").asLong() > 0);
        JsonNode warn = json.readTree(lines.get(1));
        assertEquals("WARN", warn.get("level").asText());
        assertEquals("two\nlines and a tab\targ", warn.get("formattedMessage").asText());
        assertTrue(warn.get("throwable").toString().contains("boom"), warn.toString());
    }

    @Test
    void textFormatChangesNothing() {
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
        LogSetup.apply(new LogConfig(LogConfig.TEXT));
        LoggerFactory.getLogger("relaybox.test").warn("plain");
        String out = captured.toString(StandardCharsets.UTF_8);
        assertTrue(out.contains("plain") && !out.trim().startsWith("{"), out);
    }
}
