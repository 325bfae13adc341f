package relaybox.relay.intake;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.MethodSource;

import java.io.IOException;
import java.net.URISyntaxException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Runs the protocol dialogs in {@code src/test/resources/dialogs} (format in the README there),
 * one edge case per file, against an intake with a 1 KiB size limit and 3 recipients at most.
 */
class DialogTest {

    @AutoClose
    private IntakeHarness h;

    @BeforeEach
    void start() throws Exception {
        h = new IntakeHarness(new ControllableQueue(), "intake_max_message_size = \"1KiB\"\nintake_max_recipients = 3\n");
    }

    static Stream<Path> dialogs() throws IOException, URISyntaxException {
        Path dir = Path.of(DialogTest.class.getResource("/dialogs").toURI());
        return Files.list(dir).filter(p -> p.toString().endsWith(".dialog")).sorted();
    }

    @ParameterizedTest(name = "{0}")
    @MethodSource("dialogs")
    void dialog(Path file) throws Exception {
        List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
        try (RawSmtp c = h.connect()) {
            int n = 0;
            for (String line : lines) {
                n++;
                String where = file.getFileName() + ":" + n;
                if (line.isBlank() || line.startsWith("#")) {
                    continue;
                }
                if (line.startsWith(">> ")) {
                    c.send(unescape(line.substring(3)));
                } else if (line.startsWith("> ")) {
                    c.send(line.substring(2) + "\r\n");
                } else if (line.startsWith("< ")) {
                    String want = line.substring(2);
                    String got = c.reply();
                    assertTrue(got != null && got.startsWith(want), where + ": want \"" + want + "\", got \"" + got + "\"");
                } else if (line.equals("closed")) {
                    assertTrue(c.closedByServer(), where + ": connection still open");
                } else {
                    fail(where + ": cannot read \"" + line + "\"");
                }
            }
        }
    }

    static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char ch = s.charAt(i);
            if (ch == '\\' && i + 1 < s.length()) {
                char e = s.charAt(++i);
                b.append(switch (e) {
                    case 'r' -> '\r';
                    case 'n' -> '\n';
                    case 't' -> '\t';
                    default -> e;
                });
            } else {
                b.append(ch);
            }
        }
        return b.toString();
    }
}
