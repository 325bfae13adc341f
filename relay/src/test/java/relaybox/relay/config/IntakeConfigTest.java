package relaybox.relay.config;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class IntakeConfigTest {

    private static IntakeConfig parse(String toml) throws ConfigException {
        ConfigReader r = ConfigReader.parse("t.conf", toml);
        IntakeConfig c = IntakeConfig.from(r);
        r.finish();
        return c;
    }

    @Test
    void defaults() throws Exception {
        IntakeConfig c = parse("");
        assertEquals(List.of(InetSocketAddress.createUnresolved("127.0.0.1", 25)), c.listen());
        assertEquals(25L << 20, c.maxMessageSize());
        assertEquals(IntakeConfig.DEFAULT_MAX_RECIPIENTS, c.maxRecipients());
        assertEquals(Duration.ofMinutes(5), c.commandTimeout());
        assertEquals(Runtime.getRuntime().availableProcessors(), c.workerThreads(), "one event loop per core");
        assertEquals(List.of(Cidr.parse("127.0.0.0/8").orElseThrow(), Cidr.parse("::1/128").orElseThrow()), c.networks());
        assertNull(c.tlsCert());
        assertTrue(!c.hostname().isEmpty());
    }

    @Test
    void ipv6AndSeveralListeners() throws Exception {
        IntakeConfig c = parse("intake_listen = [\"[::1]:25\", \"127.0.0.1:2525\", \"localhost:0\"]");
        assertEquals("::1", c.listen().get(0).getHostString());
        assertEquals(25, c.listen().get(0).getPort());
        assertEquals(2525, c.listen().get(1).getPort());
        assertEquals("localhost", c.listen().get(2).getHostString());
    }

    @ParameterizedTest
    @CsvSource(delimiter = '|', value = {
            "intake_listen = [\"127.0.0.1\"]|intake_listen",
            "intake_listen = [\"::1:25\"]|intake_listen",
            "intake_listen = [\"127.0.0.1:70000\"]|intake_listen",
            "intake_listen = []|intake_listen",
            "intake_networks = [\"example.com/8\"]|intake_networks",
            "intake_networks = [\"10.0.0.0/33\"]|intake_networks",
            "intake_max_message_size = \"lots\"|intake_max_message_size",
            "intake_max_recipients = 0|intake_max_recipients",
            "intake_command_timeout = \"0s\"|intake_command_timeout",
            "intake_tls_cert = \"/etc/cert.pem\"|intake_tls_key",
            "intake_auth_credentials = \"/etc/creds\"|intake_auth_credentials",
            "intake_hostname = \"bad name\"|intake_hostname",
            "intake_lisen = [\"127.0.0.1:25\"]|intake_lisen",
    })
    void badValuesNameTheKey(String toml, String key) {
        ConfigException e = assertThrows(ConfigException.class, () -> parse(toml));
        assertTrue(e.getMessage().startsWith("t.conf: " + key + ": "), e.getMessage());
    }

    @Test
    void cidrMatching() {
        Cidr ten = Cidr.parse("10.0.0.0/8").orElseThrow();
        Cidr one = Cidr.parse("192.0.2.7").orElseThrow();
        Cidr v6 = Cidr.parse("2001:db8::/32").orElseThrow();
        assertTrue(ten.contains(addr("10.200.1.2")));
        assertTrue(!ten.contains(addr("11.0.0.1")));
        assertTrue(ten.contains(addr("::ffff:10.1.2.3")));
        assertTrue(one.contains(addr("192.0.2.7")) && !one.contains(addr("192.0.2.8")));
        assertTrue(v6.contains(addr("2001:db8:1::5")) && !v6.contains(addr("2001:db9::1")));
        assertTrue(!v6.contains(addr("10.0.0.1")));
    }

    static java.net.InetAddress addr(String s) {
        try {
            return java.net.InetAddress.getByName(s);
        } catch (java.net.UnknownHostException e) {
            throw new IllegalArgumentException(e);
        }
    }
}
