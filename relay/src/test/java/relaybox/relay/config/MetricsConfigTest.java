package relaybox.relay.config;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.api.Test;

import java.net.InetSocketAddress;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MetricsConfigTest {

    private static MetricsConfig read(String toml) throws ConfigException {
        ConfigReader r = ConfigReader.parse("test.conf", toml);
        MetricsConfig c = MetricsConfig.from(r);
        r.finish();
        return c;
    }

    @Test
    void offByDefault() throws Exception {
        MetricsConfig c = read("");
        assertFalse(c.enabled());
        assertEquals(Optional.empty(), c.address());
        assertEquals("/metrics", c.path());
        assertEquals(new LogConfig("text"), LogConfig.from(ConfigReader.empty()));
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "9465              | 127.0.0.1 | 9465",
            "127.0.0.1:9465    | 127.0.0.1 | 9465",
            "[::1]:9465        | 0:0:0:0:0:0:0:1 | 9465",
            "0.0.0.0:9100      | 0.0.0.0   | 9100",
            "localhost:0       | 127.0.0.1 | 0",
    })
    void listenAddresses(String listen, String host, int port) throws Exception {
        InetSocketAddress a = read("metrics_listen = \"" + listen + "\"").address().orElseThrow();
        assertEquals(host, a.getAddress().getHostAddress());
        assertEquals(port, a.getPort());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "metrics_listen = \"prometheus.example:9465\" | metrics_listen",
            "metrics_listen = \"127.0.0.1:99999\"         | metrics_listen",
            "metrics_listen = \"127.0.0.1\"               | metrics_listen",
            "metrics_listen = 9465                      | metrics_listen",
            "metrics_path = \"metrics\"                   | metrics_path",
            "metrics_path = \"/healthz\"                  | metrics_path",
            "log_format = \"xml\"                         | log_format",
    })
    void badValuesNameTheirKey(String toml, String key) {
        ConfigException e = assertThrows(ConfigException.class, () -> {
            ConfigReader r = ConfigReader.parse("test.conf", toml);
            MetricsConfig.from(r);
            LogConfig.from(r);
        });
        assertTrue(e.getMessage().startsWith("test.conf: " + key + ": "), e.getMessage());
    }

    @Test
    void jsonLogFormat() throws Exception {
        assertTrue(LogConfig.from(ConfigReader.parse("t", "log_format = \"json\"")).json());
    }
}
