package relaybox.admin;

import org.junit.jupiter.api.Test;
import relaybox.relay.config.ConfigReader;
import relaybox.relay.config.ControlConfig;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The client's one-key peek at the config file finds what the daemon's config reader finds. */
class ConfigPeekTest {

    @Test
    void findsTheControlSocketTheDaemonUsesInTheShippedFile() throws Exception {
        String shipped = Files.readString(Path.of("../etc/relaybox.conf"));
        assertNull(ConfigPeek.requiredString(shipped, "control_socket"), "commented out in the shipped file");
        String set = shipped.replace("#control_socket = ", "control_socket = ");
        assertEquals(ControlConfig.from(ConfigReader.parse("shipped", set)).socket().toString(),
                ConfigPeek.requiredString(set, "control_socket"));
        String literal = "control_socket = '/srv/relay/ctl.sock'   # a literal string\n";
        assertEquals(ControlConfig.from(ConfigReader.parse("literal", literal)).socket().toString(),
                ConfigPeek.requiredString(literal, "control_socket"));
    }

    @Test
    void aKeyInATableOrAValueThatIsNoStringIsNotTakenForTheSocket() {
        assertNull(ConfigPeek.requiredString("[[upstream]]\ncontrol_socket = \"/x.sock\"\n", "control_socket"));
        assertNull(ConfigPeek.requiredString("control_socket_old = \"/x.sock\"\n", "control_socket"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConfigPeek.requiredString("control_socket = 42\n", "control_socket"));
        assertEquals("control_socket: expected a string in quotes", e.getMessage());
    }
}
