package relaybox.relay.intake;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.slf4j.LoggerFactory;
import relaybox.queue.memory.InMemoryQueue;

import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A client that resets its connection (RST, as a killed client or a flood probe does) is a
 * normal event: one short line at debug, never James's "Unable to process request" at ERROR
 * with a stack trace (200 of them in an idle-flood probe before IntakeCoreHandler took the
 * reset itself).
 */
class ConnectionResetLogTest {

    private final Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
    private final Logger handler = (Logger) LoggerFactory.getLogger(IntakeCoreHandler.class);
    private final ListAppender<ILoggingEvent> events = new ListAppender<>();
    private Level handlerLevel;

    @BeforeEach
    void capture() {
        events.start();
        root.addAppender(events);
        handlerLevel = handler.getLevel();
        // The debug line is the one wanted; the test configuration logs WARN and above.
        handler.setLevel(Level.DEBUG);
    }

    @AfterEach
    void release() {
        handler.setLevel(handlerLevel);
        root.detachAppender(events);
        events.stop();
    }

    @Test
    void aResetIsOneDebugLineAndNothingAboveDebug() throws Exception {
        try (IntakeHarness h = new IntakeHarness(new InMemoryQueue(), "")) {
            int resets = 5;
            for (int i = 0; i < resets; i++) {
                Socket s = new Socket(h.address().getAddress(), h.address().getPort());
                s.setSoTimeout(10_000);
                InputStream in = s.getInputStream();
                OutputStream out = s.getOutputStream();
                readReply(in);
                out.write("EHLO client.test\r\n".getBytes(StandardCharsets.US_ASCII));
                out.flush();
                readReply(in);
                // SO_LINGER 0: close() sends RST instead of FIN, so the intake's read fails with
                // "Connection reset by peer".
                s.setSoLinger(true, 0);
                s.close();
            }
            Awaits.until(() -> gone().size() >= resets, resets + " debug lines for " + resets + " resets, got "
                    + gone().size() + ": " + logged());
            List<ILoggingEvent> loud = logged().stream().filter(e -> e.getLevel().isGreaterOrEqual(Level.INFO))
                    .toList();
            assertEquals(List.of(), loud.stream().map(e -> e.getLevel() + " " + e.getLoggerName() + ": "
                    + e.getFormattedMessage()).toList(), "a reset logs nothing at info or above");
            for (ILoggingEvent e : gone()) {
                assertTrue(e.getThrowableProxy() == null, "one short line, no stack trace: " + e.getFormattedMessage());
            }
        }
    }

    /** A copy: the appender adds from the intake's threads, under its own lock. */
    private List<ILoggingEvent> logged() {
        synchronized (events) {
            return List.copyOf(events.list);
        }
    }

    private List<ILoggingEvent> gone() {
        return logged().stream().filter(e -> e.getLevel() == Level.DEBUG
                && e.getLoggerName().equals(IntakeCoreHandler.class.getName())
                && e.getFormattedMessage().contains("gone")).toList();
    }

    /** Reads a whole (multi-line) reply; the test only needs to be in step with the server. */
    private static void readReply(InputStream in) throws Exception {
        StringBuilder line = new StringBuilder();
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                if (line.length() >= 4 && line.charAt(3) == ' ') {
                    return;
                }
                line.setLength(0);
            } else if (c != '\r') {
                line.append((char) c);
            }
        }
        throw new java.io.EOFException("connection closed before a reply ended");
    }
}
