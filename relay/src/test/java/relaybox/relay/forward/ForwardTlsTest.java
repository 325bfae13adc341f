package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.EntryState;
import relaybox.queue.QueueEntry;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * TLS and AUTH against the fake ESP: verified STARTTLS and implicit TLS, AUTH PLAIN and LOGIN,
 * and the failures that must never leak mail in clear or bounce it: STARTTLS not offered, a
 * failed handshake, a certificate for another host, wrong credentials.
 */
class ForwardTlsTest {

    private static final Duration WAIT = Duration.ofSeconds(10);
    private static TestCerts localhost;
    private static TestCerts otherHost;
    private static TestCerts stranger;

    @TempDir
    Path tmp;

    @AutoClose
    private final Harness h = new Harness();
    private final FakeEsp esp = h.own(new FakeEsp());

    @BeforeAll
    static void certs() {
        localhost = TestCerts.selfSigned("localhost");
        otherHost = TestCerts.selfSigned("other.example");
        stranger = TestCerts.selfSigned("localhost");
    }

    private Path authFile(String user, String password) throws IOException {
        Path f = tmp.resolve("auth");
        Files.writeString(f, "# upstream credentials\nusername=" + user + "\npassword=" + password + "\n");
        Files.setPosixFilePermissions(f, PosixFilePermissions.fromString("rw-------"));
        return f;
    }

    private Harness.Up tlsUpstream(String mode) throws IOException {
        Harness.Up u = new Harness.Up("esp", esp.port());
        u.tls = mode;
        u.caFile = localhost.writePem(tmp.resolve("ca.pem"));
        u.authFile = authFile("user", "secret");
        return u;
    }

    private void startTlsEsp(TestCerts serverCert) throws IOException {
        esp.ssl = serverCert.serverContext();
        esp.offerStartTls = true;
        esp.requireTls = true;
        esp.authMechs = "PLAIN LOGIN";
        esp.start();
    }

    @Test
    void starttlsVerifiedThenAuthPlain() throws Exception {
        startTlsEsp(localhost);
        h.start(Harness.config(1, tlsUpstream("starttls").build()));
        h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("delivered", WAIT, () -> esp.received.size() == 1);
        assertTrue(esp.received.get(0).tls(), "sent over TLS");
        assertEquals("user", esp.received.get(0).authUser());
        assertEquals(2, esp.count("EHLO"), "EHLO again after STARTTLS");
        assertTrue(h.lines.stream().noneMatch(l -> l.contains("secret")), "password never logged");
    }

    @Test
    void authLoginWhenPlainIsNotOffered() throws Exception {
        startTlsEsp(localhost);
        esp.authMechs = "LOGIN";
        h.start(Harness.config(1, tlsUpstream("starttls").build()));
        h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("delivered", WAIT, () -> esp.received.size() == 1);
        assertEquals("user", esp.received.get(0).authUser());
    }

    @Test
    void implicitTls() throws Exception {
        esp.ssl = localhost.serverContext();
        esp.implicitTls = true;
        esp.authMechs = "PLAIN";
        esp.start();
        h.start(Harness.config(1, tlsUpstream("tls").build()));
        h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("delivered", WAIT, () -> esp.received.size() == 1);
        assertTrue(esp.received.get(0).tls());
    }

    @Test
    void starttlsRequiredButNotOfferedSendsNothing() throws Exception {
        startTlsEsp(localhost);
        esp.offerStartTls = false;
        h.start(Harness.config(1, tlsUpstream("starttls").build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        assertNothingSentAndStillQueued(e, "STARTTLS: STARTTLS required but not offered");
        assertEquals(0, esp.count("AUTH"), "no credentials in clear: " + esp.commands);
    }

    @Test
    void failedHandshakeSendsNothingInClear() throws Exception {
        startTlsEsp(stranger); // a certificate our ca_file does not trust
        h.start(Harness.config(1, tlsUpstream("starttls").build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        // In the operator's words: which host, what it presented, which trust store, what to change.
        assertNothingSentAndStillQueued(e, "STARTTLS: the certificate localhost presented (subject 'CN=localhost',"
                + " issuer 'CN=localhost') is not trusted by ca_file " + tmp.resolve("ca.pem")
                + "; put the CA that issued it (CN=localhost) into " + tmp.resolve("ca.pem"));
        assertEquals(0, esp.count("AUTH"), "no credentials in clear: " + esp.commands);
    }

    @Test
    void certificateForAnotherHostIsRefused() throws Exception {
        startTlsEsp(otherHost);
        Harness.Up u = tlsUpstream("starttls");
        u.caFile = otherHost.writePem(tmp.resolve("other.pem")); // trusted, but for other.example
        h.start(Harness.config(1, u.build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        assertNothingSentAndStillQueued(e, "STARTTLS: the certificate localhost presented (subject 'CN=other.example',"
                + " issuer 'CN=other.example', names other.example) is not for localhost; set host to a name the"
                + " certificate carries");
    }

    @Test
    void upstreamTestReportsEachStep() throws Exception {
        startTlsEsp(localhost);
        esp.limits = "MAILMAX=3";
        Harness.Up u = tlsUpstream("starttls");
        java.util.List<UpstreamTester.Step> steps =
                new UpstreamProbe(Harness.config(1, u.build())).probeAll().get(0).steps();
        assertEquals(List.of("connect", "greeting", "ehlo", "starttls", "certificate", "ehlo", "auth", "limits"),
                steps.stream().map(UpstreamTester.Step::name).toList(), steps.toString());
        assertTrue(steps.stream().allMatch(UpstreamTester.Step::ok), steps.toString());
        assertTrue(steps.get(4).detail().contains("subject 'CN=localhost'") && steps.get(4).detail().contains("ca_file"),
                steps.get(4).detail());
        assertTrue(steps.get(6).detail().startsWith("PLAIN as user: 235"), steps.get(6).detail());
        assertTrue(steps.get(7).detail().contains("LIMITS MAILMAX=3") && steps.get(7).detail().contains("3 messages"),
                steps.get(7).detail());

        // A certificate the ca_file does not trust: the test stops there, in plain words.
        esp.close();
        FakeEsp other = new FakeEsp();
        other.ssl = stranger.serverContext();
        other.offerStartTls = true;
        other.start();
        try {
            u = tlsUpstream("starttls");
            u.port = other.port();
            steps = new UpstreamProbe(Harness.config(1, u.build())).probeAll().get(0).steps();
            UpstreamTester.Step last = steps.get(steps.size() - 1);
            assertEquals("certificate", last.name(), steps.toString());
            assertTrue(!last.ok() && last.detail().contains("is not trusted by ca_file"), last.detail());
            assertEquals(0, other.count("AUTH"));
        } finally {
            other.close();
        }
    }

    @Test
    void wrongCredentialsDeferAndNeverBounce() throws Exception {
        startTlsEsp(localhost);
        Harness.Up u = tlsUpstream("starttls");
        u.authFile = authFile("user", "wrong");
        h.start(Harness.config(1, u.build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        assertNothingSentAndStillQueued(e, "535 5.7.8 Authentication credentials invalid");

        // Fixing the account upstream side brings the mail out without operator action.
        esp.password = "wrong";
        h.await("delivered once the account works", WAIT, () -> esp.received.size() == 1);
    }

    @Test
    void microsoftsOfferOfLoginAndXoauth2TakesAPasswordOverLogin() throws Exception {
        esp.ssl = localhost.serverContext();
        esp.offerStartTls = true;
        esp.requireTls = true;
        esp.authMechs = "LOGIN XOAUTH2";
        esp.start();
        h.start(Harness.config(1, tlsUpstream("starttls").build()));
        h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        h.await("delivered", WAIT, () -> esp.received.size() == 1);
        assertEquals("user", esp.received.get(0).authUser());
        assertEquals(1, esp.count("AUTH LOGIN"));
    }

    @Test
    void aConfiguredMechanismIsNeverReplacedByAnother() throws Exception {
        startTlsEsp(localhost);
        esp.authMechs = "PLAIN";
        Harness.Up u = tlsUpstream("starttls");
        u.authMechanism = relaybox.relay.config.UpstreamConfig.AuthChoice.LOGIN;
        h.start(Harness.config(1, u.build()));
        QueueEntry e = h.enqueue("app@corp.example", List.of("a@x.example"), Harness.message(1));
        assertNothingSentAndStillQueued(e, "auth_mechanism LOGIN is configured but the upstream offers only AUTH PLAIN");
        assertEquals(0, esp.count("AUTH"), "no AUTH at all: " + esp.commands);
        assertTrue(h.dispatcher.links().get(0).backingOff(), "a configuration failure");
    }

    @Test
    void aWorldReadableAuthFileIsRefusedAtStart() throws Exception {
        esp.start();
        Harness.Up u = new Harness.Up("esp", esp.port());
        u.authFile = authFile("user", "secret");
        Files.setPosixFilePermissions(u.authFile, PosixFilePermissions.fromString("rw-r--r--"));
        IOException x = assertThrows(IOException.class, () -> h.start(Harness.config(1, u.build())));
        assertTrue(x.getMessage().contains("must not be readable by others"), x.getMessage());
    }

    private void assertNothingSentAndStillQueued(QueueEntry e, String reason) {
        h.await("upstream marked down", WAIT, () -> h.linesWith(" forward down ").size() == 1);
        h.await("lease returned", WAIT, () -> h.queue.get(e.id()).orElseThrow().state() == EntryState.QUEUED);
        String down = h.linesWith(" forward down ").get(0);
        assertTrue(down.contains(reason), "got " + down + ", want a reason containing " + reason);
        assertEquals(0, esp.count("MAIL"), "no MAIL sent: " + esp.commands);
        QueueEntry now = h.queue.get(e.id()).orElseThrow();
        assertEquals(0, now.attempts(), "no attempt spent");
        assertTrue(h.linesWith(" forward failed ").isEmpty(), "nothing bounced: " + h.lines);
    }
}
