package relaybox.relay.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LocalMailConfigTest {

    private static LocalMailConfig load(String toml) throws ConfigException {
        ConfigReader r = ConfigReader.parse("test.conf", toml);
        LocalMailConfig c = LocalMailConfig.from(r);
        r.finish();
        return c;
    }

    @Test
    void defaultsNormalizeAndTheHostsName() throws Exception {
        LocalMailConfig c = load("");
        assertEquals(LocalMailConfig.BareNewline.NORMALIZE, c.bareNewline());
        assertFalse(c.localDomain().isEmpty());
        assertEquals(Map.of(), c.aliases());
        assertEquals(LocalMailConfig.DEFAULT_DROP_DIR, c.dropDir());
    }

    @Test
    void aliasesTakeAStringOrAList() throws Exception {
        LocalMailConfig c = load("""
                local_domain = "Host.Example"
                intake_bare_newline = "reject"
                [aliases]
                Root = "ops@corp.example"
                postmaster = ["root", "b@corp.example"]
                "*" = "root"
                """);
        assertEquals("host.example", c.localDomain());
        assertEquals(LocalMailConfig.BareNewline.REJECT, c.bareNewline());
        assertEquals(Map.of("root", List.of("ops@corp.example"), "postmaster", List.of("root", "b@corp.example"),
                "*", List.of("root")), c.aliases());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', textBlock = """
            local_domain = "not a domain"                 | local_domain
            intake_bare_newline = "accept"                | intake_bare_newline
            drop_poll_interval = "0s"                     | drop_poll_interval
            aliases = "root"                              | aliases
            aliases = { "a b" = "x@y.example" }           | aliases
            aliases = { root = "" }                       | aliases
            aliases = { root = [] }                       | aliases
            aliases = { root = "a@b, c@d" }               | aliases
            aliases = { root = 3 }                        | aliases
            """)
    void badValuesNameTheirKey(String toml, String key) {
        ConfigException e = assertThrows(ConfigException.class, () -> load(toml));
        assertTrue(e.getMessage().startsWith("test.conf: " + key + ":"), e.getMessage());
    }
}
