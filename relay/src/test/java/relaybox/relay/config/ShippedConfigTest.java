package relaybox.relay.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The shipped etc/relaybox.conf documents every key the daemon reads, and the default written
 * next to each key is the code's default (as Postfix checks its parameter defaults).
 */
class ShippedConfigTest {

    static final Path SHIPPED = Path.of("..", "etc", "relaybox.conf");
    private static final Pattern COMMENTED = Pattern.compile("^#\\s?([a-z][a-z0-9_]*) = (.*)$");
    /** A key an operator is expected to change, shipped uncommented with its default value. */
    private static final Pattern SET = Pattern.compile("^([a-z][a-z0-9_]*) = (.*)$");
    /** Tables, documented as examples rather than as commented keys. */
    private static final Set<String> TABLES = Set.of("upstream", "dkim_key", "aliases");

    private static Map<String, String> documented(String text) {
        Map<String, String> keys = new LinkedHashMap<>();
        for (String line : text.split("\n")) {
            if (line.startsWith("[")) {
                break; // keys after the first table header belong to that table
            }
            Matcher m = line.startsWith("#") ? COMMENTED.matcher(line) : SET.matcher(line);
            if (m.matches() && m.group(1).contains("_")) {
                keys.putIfAbsent(m.group(1), m.group(2));
            }
        }
        return keys;
    }

    @Test
    void shippedFileLoads() throws Exception {
        RelayConfig c = RelayConfig.load(SHIPPED);
        assertEquals(SHIPPED, c.file());
    }

    @Test
    void everyKeyTheDaemonReadsIsDocumented() throws Exception {
        String text = Files.readString(SHIPPED);
        ConfigReader r = ConfigReader.parse(SHIPPED.toString(), text);
        RelayConfig.from(SHIPPED, r);
        Map<String, String> documented = documented(text);
        List<String> missing = new ArrayList<>();
        for (String key : r.keysRead()) {
            if (!TABLES.contains(key) && !documented.containsKey(key)) {
                missing.add(key);
            }
        }
        assertTrue(missing.isEmpty(), "keys read by the daemon but not documented in " + SHIPPED + ": " + missing);
        assertTrue(r.keysRead().size() > 10, "read only " + r.keysRead());
    }

    @Test
    void documentedDefaultsAreTheCodeDefaults() throws Exception {
        String shipped = Files.readString(SHIPPED);
        ConfigReader r = ConfigReader.parse(SHIPPED.toString(), shipped);
        RelayConfig asShipped = RelayConfig.from(SHIPPED, r);
        // Keys shipped uncommented must hold the default too: comment them out and compare.
        int tables = shipped.indexOf("\n[");
        String text = shipped.substring(0, tables).replaceAll("(?m)^([a-z][a-z0-9_]* = )", "#$1")
                + shipped.substring(tables);
        assertEquals(asShipped, RelayConfig.from(SHIPPED, ConfigReader.parse("defaults", text)),
                "a key set in the shipped file differs from the code's default");
        StringBuilder uncommented = new StringBuilder();
        for (Map.Entry<String, String> e : documented(text).entrySet()) {
            if (!r.keysRead().contains(e.getKey())) {
                continue; // a key of a table example, such as [[upstream]] name
            }
            uncommented.append(e.getKey()).append(" = ").append(e.getValue()).append('\n');
        }
        // Top-level keys must come before the first table, so they go first.
        RelayConfig explicit;
        try {
            explicit = RelayConfig.from(SHIPPED, ConfigReader.parse("uncommented", uncommented + text));
        } catch (ConfigException e) {
            fail("a documented default does not load: " + e.getMessage());
            return;
        }
        assertEquals(asShipped, explicit, "a documented default differs from the code's default");
    }
}
