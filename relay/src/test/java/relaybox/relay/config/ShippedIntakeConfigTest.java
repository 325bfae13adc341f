package relaybox.relay.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * etc/relaybox.conf documents every intake key with the code's default: the file parses, and the
 * file with every commented-out intake key uncommented gives the same settings as no file.
 */
class ShippedIntakeConfigTest {

    static Path shipped() {
        Path p = Path.of("").toAbsolutePath();
        while (p != null && !Files.exists(p.resolve("etc/relaybox.conf"))) {
            p = p.getParent();
        }
        return p.resolve("etc/relaybox.conf");
    }

    @Test
    void everyIntakeKeyIsDocumentedWithItsDefault() throws Exception {
        String text = Files.readString(shipped());
        StringBuilder uncommented = new StringBuilder();
        Matcher m = Pattern.compile("(?m)^#?(intake_[a-z_]+ = .*)$").matcher(text);
        java.util.Set<String> keys = new java.util.TreeSet<>();
        while (m.find()) {
            uncommented.append(m.group(1)).append('\n');
            keys.add(m.group(1).substring(0, m.group(1).indexOf(' ')));
        }
        // ShippedConfigTest checks that every key the daemon reads is documented; here, that the
        // intake's documented defaults are its defaults.
        assertTrue(keys.size() >= 10, "intake keys documented: " + keys);
        ConfigReader r = ConfigReader.parse("relaybox.conf", uncommented.toString());
        IntakeConfig documented = IntakeConfig.from(r);
        // intake_bare_newline belongs to the host-MTA settings (LocalMailConfig).
        LocalMailConfig local = LocalMailConfig.from(r);
        r.finish();
        assertEquals(IntakeConfig.defaults(), documented);
        assertEquals(LocalMailConfig.defaults().bareNewline(), local.bareNewline());
        assertTrue(text.contains("\nintake_listen = [\"127.0.0.1:25\"]\n"), "intake_listen is set, uncommented");
    }
}
