package relaybox.relay.forward;

import ch.qos.logback.classic.Level;
import ch.qos.logback.classic.Logger;
import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.core.read.ListAppender;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.slf4j.LoggerFactory;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.OAuthConfig;
import relaybox.relay.config.UpstreamConfig.AuthChoice;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * XOAUTH2 end to end through the dispatcher: a Microsoft-like fake ESP (STARTTLS, then
 * {@code AUTH LOGIN XOAUTH2}, no PLAIN) that accepts only bearer tokens the fake token endpoint
 * issued and that have not expired, and a real HTTP token endpoint that counts its calls, rotates
 * and revokes refresh tokens.
 */
class XOAuth2Test {

    private static final Duration WAIT = Duration.ofSeconds(15);
    private static final String MAILBOX = "app@corp.example";
    private static TestCerts localhost;

    @TempDir
    Path tmp;

    private final FakeEsp esp = new FakeEsp();
    private FakeTokenEndpoint idp;
    private Harness h = new Harness();
    private Path secrets;
    private final ListAppender<ILoggingEvent> logged = new ListAppender<>();
    private Level level;

    @BeforeAll
    static void certs() {
        localhost = TestCerts.selfSigned("localhost");
    }

    @BeforeEach
    void setUp() throws IOException {
        idp = new FakeTokenEndpoint();
        esp.ssl = localhost.serverContext();
        esp.offerStartTls = true;
        esp.requireTls = true;
        esp.authMechs = "LOGIN XOAUTH2";
        esp.user = MAILBOX;
        esp.password = "not-used";
        esp.bearerValid = idp::accessValid;
        esp.start();
        secrets = tmp.resolve("ms365.secret");
        writeSecrets("username=" + MAILBOX + "\nrefresh_token=" + idp.grant("rt-first-0123456789") + "\n");
        Logger root = (Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME);
        logged.start();
        root.addAppender(logged);
        Logger relay = (Logger) LoggerFactory.getLogger("relaybox");
        level = relay.getLevel();
        relay.setLevel(Level.DEBUG);
    }

    @AfterEach
    void tearDown() {
        h.close();
        esp.close();
        idp.close();
        ((Logger) LoggerFactory.getLogger(org.slf4j.Logger.ROOT_LOGGER_NAME)).detachAppender(logged);
        ((Logger) LoggerFactory.getLogger("relaybox")).setLevel(level);
    }

    /** Replaces the secrets file as an operator's editor would (new inode, mode 0600). */
    private void writeSecrets(String text) throws IOException {
        Path t = tmp.resolve("secret.tmp");
        Files.writeString(t, text);
        Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rw-------"));
        Files.move(t, secrets, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
    }

    private Harness.Up upstream() throws IOException {
        Harness.Up u = new Harness.Up("ms365", esp.port());
        u.tls = "starttls";
        u.caFile = localhost.writePem(tmp.resolve("ca.pem"));
        u.authFile = secrets;
        u.oauth = new OAuthConfig("microsoft", OAuthConfig.Grant.REFRESH_TOKEN, idp.url(), FakeTokenEndpoint.CLIENT_ID,
                OAuthConfig.MICROSOFT_DELEGATED_SCOPE);
        return u;
    }

    private List<QueueEntry> send(int n) throws Exception {
        List<QueueEntry> out = new ArrayList<>();
        for (int i = 0; i < n; i++) {
            out.add(h.enqueue(MAILBOX, List.of("a@x.example"), Harness.message(i)));
        }
        return out;
    }

    @Test
    void oneTokenServesManyMessagesAndConnections() throws Exception {
        Harness.Up u = upstream();
        u.perConnection = 2;
        u.maxConnections = 3;
        h.start(Harness.config(3, u.build()));
        send(12);
        h.await("12 delivered", WAIT, () -> esp.received.size() == 12);
        assertEquals(1, idp.calls.get(), "one token fetch for all sessions");
        assertTrue(esp.connections.get() >= 6, "2 messages per connection: " + esp.connections.get());
        assertEquals(esp.connections.get(), esp.xoauth2.get(), "every session authenticated with XOAUTH2");
        assertTrue(esp.received.stream().allMatch(r -> r.tls() && r.authUser().equals(MAILBOX)));
        assertEquals(0, esp.count("AUTH LOGIN"), "no password mechanism tried");
        var form = idp.forms.get(0);
        assertEquals("refresh_token", form.get("grant_type"));
        assertEquals(OAuthConfig.MICROSOFT_DELEGATED_SCOPE, form.get("scope"));
        assertNoSecretLogged();
    }

    @Test
    void upstreamTestUsesTheRunningUpstreamsTokenAndNamesTheMechanism() throws Exception {
        var cfg = Harness.config(1, upstream().build());
        h.start(cfg);
        send(1);
        h.await("delivered", WAIT, () -> esp.received.size() == 1);
        var probe = new UpstreamProbe(cfg, h.dispatcher::forwarder).probeAll().get(0);
        assertTrue(probe.ok(), probe.toString());
        var auth = probe.steps().stream().filter(s -> s.name().equals("auth")).findFirst().orElseThrow();
        assertTrue(auth.detail().startsWith("XOAUTH2 as " + MAILBOX + ": 235"), auth.detail());
        assertEquals(1, idp.calls.get(), "the cached token, not a second fetch");

        idp.revokeAll();
        esp.dropConnections();
        probe = new UpstreamProbe(cfg, h.dispatcher::forwarder).probeAll().get(0);
        var last = probe.steps().get(probe.steps().size() - 1);
        assertEquals("auth", last.name());
        assertTrue(!last.ok() && last.detail().contains("535 5.7.3"), last.detail());
        probe = new UpstreamProbe(cfg, h.dispatcher::forwarder).probeAll().get(0);
        last = probe.steps().get(probe.steps().size() - 1);
        assertTrue(!last.ok() && last.detail().contains("invalid_grant: AADSTS700082"), last.detail());
        assertNoSecretLogged();
    }

    @Test
    void theTokenIsRefreshedBeforeItExpires() throws Exception {
        idp.expiresIn = 2; // refreshed after half its life: 1s
        Harness.Up u = upstream();
        u.perConnection = 1; // each message opens a session and authenticates
        h.start(Harness.config(1, u.build()));
        send(1);
        h.await("first delivered", WAIT, () -> esp.received.size() == 1);
        assertEquals(1, idp.calls.get());
        Thread.sleep(1200); // past the refresh point, before the expiry the fake ESP enforces
        send(1);
        h.await("second delivered", WAIT, () -> esp.received.size() == 2);
        assertEquals(2, idp.calls.get(), "a new token before the old one expired");
        assertTrue(esp.challengeAnswers.isEmpty(), "no token was refused: " + esp.challengeAnswers);
    }

    @Test
    void aRotatedRefreshTokenIsSavedAndSurvivesARestart() throws Exception {
        idp.rotate = true;
        h.start(Harness.config(1, upstream().build()));
        send(1);
        h.await("delivered", WAIT, () -> esp.received.size() == 1);
        String text = Files.readString(secrets);
        assertFalse(text.contains("rt-first-0123456789"), "the old refresh token is gone");
        assertTrue(text.startsWith("username=" + MAILBOX + "\nrefresh_token=rt-"), text.replaceAll("rt-\\w+", "rt-…"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(secrets)));

        // A restart: a new dispatcher knows only the file. The old refresh token is revoked by the
        // rotation, so delivery proves the saved one was used.
        h.close();
        Harness again = new Harness();
        h = again;
        h.start(Harness.config(1, upstream().build()));
        h.enqueue(MAILBOX, List.of("a@x.example"), Harness.message(2));
        h.await("delivered after restart", WAIT, () -> esp.received.size() == 2);
        assertEquals(2, idp.calls.get());
        assertNoSecretLogged();
    }

    @Test
    void aRevokedRefreshTokenDefersMailAndItDrainsOnceFixed() throws Exception {
        idp.revokeAll();
        h.start(Harness.config(1, upstream().build()));
        QueueEntry e = send(1).get(0);
        h.await("upstream marked down", WAIT, () -> h.linesWith(" forward down ").size() == 1);
        h.await("lease returned", WAIT, () -> h.queue.get(e.id()).orElseThrow().state() == EntryState.QUEUED);
        String down = h.linesWith(" forward down ").get(0);
        assertTrue(down.contains("invalid_grant: AADSTS700082"), down);
        LinkView link = h.dispatcher.links().get(0);
        assertTrue(link.backingOff(), "configuration class: " + link);
        assertTrue(link.reason().contains("AADSTS700082"), link.reason());
        assertEquals(0, esp.count("AUTH"), "no AUTH without a token");
        assertEquals(0, h.queue.get(e.id()).orElseThrow().attempts(), "no attempt spent");
        assertTrue(h.linesWith(" forward failed ").isEmpty(), "never a bounce: " + h.lines);
        long loud = logged.list.stream().filter(l -> l.getLevel() == Level.ERROR
                && l.getFormattedMessage().contains("AADSTS700082")).count();
        assertEquals(1, loud, "logged loudly once");

        // The operator signs in again and places the new refresh token: mail drains by itself.
        writeSecrets("username=" + MAILBOX + "\nrefresh_token=" + idp.grant("rt-second-operator-placed") + "\n");
        h.await("delivered once fixed", WAIT, () -> esp.received.size() == 1);
        assertNoSecretLogged();
    }

    @Test
    void aTokenTheUpstreamRefusesGetsTheEmptyAnswerAndIsAConfigurationFailure() throws Exception {
        esp.bearerValid = t -> false;
        h.start(Harness.config(1, upstream().build()));
        QueueEntry e = send(1).get(0);
        h.await("upstream marked down", WAIT, () -> h.linesWith(" forward down ").size() == 1);
        h.await("lease returned", WAIT, () -> h.queue.get(e.id()).orElseThrow().state() == EntryState.QUEUED);
        assertTrue(h.linesWith(" forward down ").get(0).contains("535 5.7.3"), h.lines.toString());
        assertEquals(List.of(""), esp.challengeAnswers.subList(0, 1), "the 334 error challenge is answered empty");
        assertTrue(h.dispatcher.links().get(0).backingOff());
        assertTrue(h.linesWith(" forward failed ").isEmpty(), "never a bounce");
        // The refused token is dropped: the next probe fetches a new one, and once the upstream
        // takes tokens again the mail goes.
        esp.bearerValid = idp::accessValid;
        h.dispatcher.probeNow();
        h.await("delivered", WAIT, () -> esp.received.size() == 1);
        assertTrue(idp.calls.get() >= 2, "a new token after the refusal: " + idp.calls.get());
    }

    @Test
    void noFallbackToAPasswordWhenXoauth2IsNotOffered() throws Exception {
        esp.authMechs = "PLAIN LOGIN";
        h.start(Harness.config(1, upstream().build()));
        send(1);
        h.await("upstream marked down", WAIT, () -> h.linesWith(" forward down ").size() == 1);
        assertTrue(h.linesWith(" forward down ").get(0).contains("does not fall back"), h.lines.toString());
        assertEquals(0, esp.count("AUTH"), "nothing sent: " + esp.commands);
        assertEquals(0, idp.calls.get(), "no token fetched for an upstream that cannot take it");
    }

    @Test
    void anUnreachableTokenEndpointIsALinkFailureNotAConfigurationOne() throws Exception {
        idp.unavailable = true;
        h.start(Harness.config(1, upstream().build()));
        send(1);
        h.await("upstream marked down", WAIT, () -> h.linesWith(" forward down ").size() == 1);
        assertTrue(h.linesWith(" forward down ").get(0).contains("HTTP 503"), h.lines.toString());
        assertFalse(h.dispatcher.links().get(0).backingOff(), "the provider's trouble: probed at the normal pace");
        idp.unavailable = false;
        h.await("delivered when the endpoint is back", WAIT, () -> esp.received.size() == 1);
    }

    @Test
    void clientCredentialsGrantUsesTheClientSecret() throws Exception {
        writeSecrets("username=" + MAILBOX + "\nclient_secret=" + idp.clientSecret + "\n");
        Harness.Up u = upstream();
        u.oauth = new OAuthConfig("microsoft", OAuthConfig.Grant.CLIENT_CREDENTIALS, idp.url(),
                FakeTokenEndpoint.CLIENT_ID, OAuthConfig.MICROSOFT_APP_SCOPE);
        u.authMechanism = AuthChoice.XOAUTH2;
        h.start(Harness.config(1, u.build()));
        send(2);
        h.await("delivered", WAIT, () -> esp.received.size() == 2);
        assertEquals(1, idp.calls.get());
        assertEquals("client_credentials", idp.forms.get(0).get("grant_type"));
        assertEquals(OAuthConfig.MICROSOFT_APP_SCOPE, idp.forms.get(0).get("scope"));
        assertNoSecretLogged();
    }

    /** No refresh token, client secret or access token in any log line or mail-log line. */
    private void assertNoSecretLogged() throws IOException {
        List<String> secretsSeen = new ArrayList<>(idp.issued);
        secretsSeen.add(idp.clientSecret);
        List<String> all = new ArrayList<>(h.lines);
        logged.list.forEach(l -> all.add(l.getFormattedMessage()
                + (l.getThrowableProxy() == null ? "" : l.getThrowableProxy().getMessage())));
        h.dispatcher.links().forEach(l -> all.add(l.toString()));
        assertFalse(all.isEmpty());
        for (String s : secretsSeen) {
            for (String line : all) {
                assertFalse(line.contains(s), "a secret in: " + line);
            }
        }
    }
}
