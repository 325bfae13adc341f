package relaybox.relay.config;

import org.junit.jupiter.api.Test;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DkimConfigTest {

    static final Set<String> KEYS = Set.of("dkim_canonicalization", "dkim_headers", "dkim_oversign_headers",
            "dkim_expiry", "dkim_key_by", "dkim_subdomains", "dkim_no_key", "dkim_sign_with");
    static final Pattern COMMENTED = Pattern.compile("(?m)^#\\s*(dkim_[a-z_]+)\\s*=\\s*(.*)$");

    @Test
    void shippedConfigDocumentsEveryKeyWithItsDefault() throws Exception {
        String text = Files.readString(Path.of("../etc/relaybox.conf"));
        StringBuilder uncommented = new StringBuilder();
        Set<String> seen = new TreeSet<>();
        Matcher m = COMMENTED.matcher(text);
        while (m.find()) {
            seen.add(m.group(1));
            uncommented.append(m.group(1)).append(" = ").append(m.group(2)).append('\n');
        }
        assertEquals(new TreeSet<>(KEYS), seen, "dkim_* keys documented in etc/relaybox.conf");
        ConfigReader r = ConfigReader.parse("shipped", uncommented.toString());
        assertEquals(DkimConfig.defaults(), DkimConfig.from(r));
        r.finish();
        // the example [[dkim_key]] table parses too
        int table = text.indexOf("# [[dkim_key]]");
        StringBuilder example = new StringBuilder();
        for (String line : text.substring(table).split("\n")) {
            String l = line.replaceFirst("^# ?", "");
            if (!line.startsWith("#") || !(l.equals("[[dkim_key]]") || l.matches("[a-z_]+ = .*"))) {
                break; // the example table ends at the first line that is not part of it
            }
            example.append(l).append('\n');
        }
        DkimConfig withKey = DkimConfig.from(ConfigReader.parse("example", example.toString()));
        assertEquals(1, withKey.keys().size());
    }

    @Test
    void defaultsAreOffRelaxedAndOverSignFrom() {
        DkimConfig d = DkimConfig.defaults();
        assertFalse(d.enabled());
        assertEquals("relaxed", d.headerCanon());
        assertEquals("relaxed", d.bodyCanon());
        assertEquals(List.of("From"), d.oversign());
        assertEquals(DkimConfig.NoKey.SEND_UNSIGNED, d.noKey());
    }

    @Test
    void badValuesNameTheKey() {
        assertError("dkim_canonicalization = \"relaxed\"", "dkim_canonicalization");
        assertError("dkim_headers = [\"To\"]", "dkim_headers: must include From");
        assertError("dkim_headers = [\"From\", \"Bad Name\"]", "dkim_headers");
        assertError("dkim_no_key = \"drop\"", "dkim_no_key");
        assertError("[[dkim_key]]\nselector = \"s\"\nkey_file = \"/k\"", "dkim_key[0].domain");
        assertError("[[dkim_key]]\ndomain = \"x.example\"\nkey_file = \"/k\"", "dkim_key[0].selector");
        assertError("[[dkim_key]]\ndomain = \"x.example\"\nselector = \"s\"", "dkim_key[0].key_file");
        assertError("[[dkim_key]]\ndomain = \"x.example\"\nselector = \"s\"\nkey_file = \"/k\"\nalgorithm = \"dsa\"",
                "dkim_key[0].algorithm");
        String t = "[[dkim_key]]\ndomain = \"x.example\"\nselector = \"s\"\nkey_file = \"/k\"\nalgorithm = \"rsa\"\n";
        assertError(t + t, "dkim_key[1].selector");
        assertError(t + t.replace("\"s\"", "\"s2\""), "dkim_key[1].active");
    }

    @Test
    void unknownKeyInATableIsAnError() throws Exception {
        ConfigReader r = ConfigReader.parse("t", "[[dkim_key]]\ndomain = \"x.example\"\nselector = \"s\"\n"
                + "key_file = \"/k\"\nkeyfile = \"/typo\"\n");
        DkimConfig.from(r);
        ConfigException e = assertThrows(ConfigException.class, r::finish);
        assertTrue(e.getMessage().contains("dkim_key[0].keyfile"), e.getMessage());
    }

    static void assertError(String toml, String want) {
        ConfigException e = assertThrows(ConfigException.class, () -> DkimConfig.from(ConfigReader.parse("t", toml)),
                toml);
        assertTrue(e.getMessage().contains(want), "got " + e.getMessage() + ", want " + want);
    }
}
