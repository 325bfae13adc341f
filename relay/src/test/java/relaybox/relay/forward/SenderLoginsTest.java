package relaybox.relay.forward;

import org.junit.jupiter.api.Test;
import relaybox.relay.config.SenderLogin;
import relaybox.relay.config.TlsMode;
import relaybox.relay.config.UpstreamConfig;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Which login carries a sender's mail: exact address, then domain, then the default or none. */
class SenderLoginsTest {

    private static UpstreamConfig upstream(Path defaultAuth) {
        UpstreamConfig u = UpstreamConfig.smtp("u", "smtp.example", 587, TlsMode.STARTTLS);
        return new UpstreamConfig(u.name(), u.type(), u.host(), u.port(), u.tls(), null, defaultAuth, null,
                u.messagesPerConnection(), u.maxConnections(), 0, List.of(), "", List.of(), List.of(), u.authMechanism(),
                null, List.of(new SenderLogin(List.of("b.example", "alice@a.example"), Path.of("/s/1"), ""),
                new SenderLogin(List.of("carol@b.example"), Path.of("/s/2"), "")), "", 0,
                relaybox.relay.config.Provider.GENERIC);
    }

    @Test
    void exactAddressBeatsDomainBeatsDefault() {
        SenderLogins l = new SenderLogins(upstream(Path.of("/s/default")));
        assertEquals(new Login(0), l.pick("alice@a.example"));
        assertEquals(new Login(0), l.pick("ALICE@A.EXAMPLE"));
        assertEquals(new Login(0), l.pick("x@b.example"));
        assertEquals(new Login(1), l.pick("carol@b.example"));
        assertEquals(Login.DEFAULT, l.pick("bob@a.example"));
        assertEquals(Login.DEFAULT, l.pick("x@sub.b.example"));
        assertEquals(Login.DEFAULT, l.pick(""));
    }

    @Test
    void withoutADefaultAnUnnamedSenderHasNoLogin() {
        SenderLogins l = new SenderLogins(upstream(null));
        assertEquals(new Login(1), l.pick("carol@b.example"));
        assertEquals(Login.NONE, l.pick("bob@a.example"));
        assertEquals(Login.NONE, l.pick(""));
    }

    @Test
    void anUpstreamWithoutLoginsAlwaysUsesItsOwn() {
        SenderLogins l = new SenderLogins(UpstreamConfig.smtp("u", "h", 25, TlsMode.NONE));
        assertEquals(Login.DEFAULT, l.pick("anyone@anywhere.example"));
        assertEquals(Login.DEFAULT, l.pick(""));
    }
}
