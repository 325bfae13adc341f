package relaybox.relay.intake;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import relaybox.relay.config.Cidr;

import java.net.InetAddress;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The relay decision for simulated client addresses. */
class RelayPolicyTest {

    private static final RelayPolicy DEFAULT = new RelayPolicy(List.of(
            Cidr.parse("127.0.0.0/8").orElseThrow(), Cidr.parse("::1/128").orElseThrow()));
    private static final RelayPolicy LAN = new RelayPolicy(List.of(Cidr.parse("192.168.10.0/24").orElseThrow()));

    @ParameterizedTest(name = "{0} auth={1} -> {2}")
    @CsvSource({
            "127.0.0.1, false, true",
            "127.8.9.10, false, true",
            "::1, false, true",
            "::ffff:127.0.0.1, false, true",
            "10.0.0.1, false, false",
            "203.0.113.9, false, false",
            "2001:db8::1, false, false",
            "203.0.113.9, true, true",
    })
    void defaultAllowsOnlyLoopbackOrAuthenticated(String client, boolean auth, boolean allowed) throws Exception {
        assertEquals(allowed, DEFAULT.allows(InetAddress.getByName(client), auth));
    }

    @ParameterizedTest(name = "{0} -> {1}")
    @CsvSource({"192.168.10.77, true", "192.168.11.1, false", "127.0.0.1, false"})
    void configuredNetwork(String client, boolean allowed) throws Exception {
        assertEquals(allowed, LAN.allows(InetAddress.getByName(client), false));
    }
}
