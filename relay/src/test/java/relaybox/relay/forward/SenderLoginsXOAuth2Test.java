package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.OAuthConfig;
import relaybox.relay.config.SenderLogin;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Per-sender logins with XOAUTH2 (Microsoft 365: one mailbox per sender): each login has its own
 * token source, fed by its own refresh token, and each mailbox authenticates only with a token
 * issued for its own refresh token; a login whose refresh token is revoked defers only its own
 * senders' mail, and the upstream stays up for the others.
 */
class SenderLoginsXOAuth2Test {

    private static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir
    Path dir;

    @AutoClose
    private final Harness h = new Harness();

    private Path secrets(String name, String mailbox, String refresh) throws Exception {
        Path f = dir.resolve(name + ".secret");
        Files.writeString(f, "username=" + mailbox + "\nrefresh_token=" + refresh + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    @Test
    void eachMailboxAuthenticatesWithItsOwnTokenAndARevokedOneDefersOnlyItsMail() throws Exception {
        try (FakeTokenEndpoint idp = new FakeTokenEndpoint(); FakeEsp esp = new FakeEsp()) {
            String rtAlice = idp.grant("rt-alice-0123456789");
            String rtBob = idp.grant("rt-bob-0123456789");
            // Carol's refresh token was never granted (revoked, or expired after 90 idle days).
            String rtCarol = "rt-carol-revoked";
            Map<String, String> refreshOf = Map.of("alice@corp.example", rtAlice, "bob@corp.example", rtBob,
                    "carol@corp.example", rtCarol);
            esp.authMechs = "LOGIN XOAUTH2";
            esp.bearerFor = (user, token) -> idp.accessValid(token)
                    && idp.grantedBy.get(token).equals(refreshOf.get(user));
            esp.start();
            OAuthConfig oauth = new OAuthConfig("microsoft", OAuthConfig.Grant.REFRESH_TOKEN, idp.url(),
                    FakeTokenEndpoint.CLIENT_ID, OAuthConfig.MICROSOFT_DELEGATED_SCOPE);
            Harness.Up u = new Harness.Up("ms365", esp.port());
            u.oauth = oauth;
            u.maxConnections = 2;
            u.logins = List.of(
                    new SenderLogin(List.of("alice@corp.example"), secrets("alice", "alice@corp.example", rtAlice), ""),
                    new SenderLogin(List.of("bob@corp.example"), secrets("bob", "bob@corp.example", rtBob), ""),
                    new SenderLogin(List.of("carol@corp.example"), secrets("carol", "carol@corp.example", rtCarol), ""));
            h.start(Harness.config(2, u.build()));
            List<QueueEntry> carol = new ArrayList<>();
            for (int i = 0; i < 12; i++) {
                String from = List.of("alice@corp.example", "bob@corp.example", "carol@corp.example").get(i % 3);
                QueueEntry e = h.enqueue(from, List.of("a@x.example"), Harness.message(i));
                if (from.startsWith("carol")) {
                    carol.add(e);
                }
            }
            h.await("alice's and bob's 8 delivered", WAIT, () -> esp.received.size() == 8);
            for (FakeEsp.Received m : esp.received) {
                assertEquals(m.from(), m.authUser(), "sent as its own mailbox");
            }
            h.await("carol's mail deferred", WAIT, () -> carol.stream()
                    .allMatch(e -> h.queue.get(e.id()).orElseThrow().attempts() > 0));
            for (QueueEntry e : carol) {
                // Retried every 100-200 ms here: deferred or being tried again, never failed or sent.
                EntryState s = h.queue.get(e.id()).orElseThrow().state();
                assertTrue(s != EntryState.FAILED && s != EntryState.DELIVERED, s.toString());
            }
            assertEquals(8, esp.received.size(), "nothing of carol's went out under another login");
            // The queue records an attempt before the mail log writes its line: wait for the lines.
            h.await("a deferral line for each of carol's 4", WAIT, () -> h.linesWith("AADSTS700082").size() >= 4);
            assertTrue(h.dispatcher.isUp("ms365"), "the upstream stays up for the other senders");
            assertEquals(2, idp.calls.get() - (int) idp.forms.stream()
                    .filter(f -> rtCarol.equals(f.get("refresh_token"))).count(), "one token per working mailbox");

            // A new refresh token for carol, placed by the operator: her mail goes at its next retry.
            String fresh = idp.grant("rt-carol-new-42");
            secrets("carol", "carol@corp.example", fresh);
            esp.bearerFor = (user, token) -> idp.accessValid(token) && idp.grantedBy.get(token)
                    .equals(user.startsWith("carol") ? fresh : refreshOf.get(user));
            h.await("carol's mail delivered", WAIT, () -> esp.received.size() == 12);
            for (FakeEsp.Received m : esp.received) {
                assertEquals(m.from(), m.authUser());
            }
        }
    }
}
