package relaybox.relay.config;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Regression for what ConfigFuzzTest found: numbers too large for their type must be refused with
 * a ConfigException naming the key (exit 78), never a NumberFormatException, an
 * ArithmeticException or a value that silently wrapped around.
 */
class ConfigOverflowTest {

    @ParameterizedTest
    @ValueSource(strings = {
        "intake_max_message_size = \"111111111111111111111111111111111111\"",
        "intake_max_message_size = \"9999999999999GiB\"",
        "queue_min_free_space = 111111111111111111111111111111111111",
        "intake_max_recipients = 18446744073709551617",
        "intake_command_timeout = \"99999999999999999999s\"",
        "queue_lifetime = \"9999999999999999d\"",
        "queue_retry_min = \"999999999999999d\"",
    })
    void overflowingNumbersAreConfigErrorsNamingTheKey(String line) {
        String key = line.substring(0, line.indexOf(' '));
        ConfigException e = assertThrows(ConfigException.class,
                () -> RelayConfig.from(null, ConfigReader.parse("test", line + "\n[[upstream]]\ntype = \"outbox\"\n")));
        assertTrue(e.getMessage().contains(key), e.getMessage());
    }
}
