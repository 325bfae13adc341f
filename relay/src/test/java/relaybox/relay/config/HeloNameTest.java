package relaybox.relay.config;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.net.InetAddress;

import static org.junit.jupiter.api.Assertions.assertEquals;

class HeloNameTest {

    @ParameterizedTest(name = "fqdn {0}, intake_hostname {1}, address {2} -> {3}")
    @CsvSource({
            "relay1.corp.example, mail.corp.example, 10.0.0.7, relay1.corp.example",
            // a host whose name has no dot (used to send EHLO localhost)
            "relay1, mail.corp.example, 10.0.0.7, mail.corp.example",
            "relay1, relay1, 10.0.0.7, [10.0.0.7]",
            "10.0.0.7, '', 10.0.0.7, [10.0.0.7]",
            "localhost.localdomain, localhost, 10.0.0.7, [10.0.0.7]",
            "relay1, '', 2001:db8::7, [IPv6:2001:db8:0:0:0:0:0:7]",
    })
    void picksAName(String fqdn, String intake, String address, String expected) throws Exception {
        assertEquals(expected, HeloName.pick(fqdn, intake, InetAddress.getByName(address)));
    }
}
