package relaybox.admin;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.forward.FakeTokenEndpoint;

import java.io.ByteArrayOutputStream;
import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code relaybox upstream login NAME} against a fake provider (a real HTTP server on port 0):
 * the device-code sign-in polls at the provider's interval until it is approved, slows down when
 * told, stops on a refusal, a denial or an expired code; Google's goes through the browser
 * sign-in; the refresh token lands in the upstream's auth_file (mode, owner, other lines kept)
 * and is never printed; every configuration problem is refused before anyone signs in.
 */
class UpstreamLoginTest {

    private static final String MAILBOX = "relay@corp.example";

    @TempDir
    Path tmp;
    FakeTokenEndpoint idp;
    Path conf;
    Path secrets;

    @BeforeEach
    void start() throws Exception {
        idp = new FakeTokenEndpoint();
        secrets = tmp.resolve("ms365.secret");
        Files.writeString(secrets, "# signed in by relaybox upstream login\nusername=" + MAILBOX + "\n");
        Files.setPosixFilePermissions(secrets, PosixFilePermissions.fromString("rw-r-----"));
        conf = tmp.resolve("relaybox.conf");
        Files.writeString(conf, "intake_listen = [\"127.0.0.1:1\"]\ncontrol_socket = \"" + tmp.resolve("c.sock") + "\"\n"
                + "queue_dir = \"" + tmp.resolve("queue") + "\"\n\n"
                + "[[upstream]]\nname = \"ms365\"\nhost = \"smtp.office365.com\"\nauth_file = \"" + secrets + "\"\n"
                + "oauth_provider = \"microsoft\"\noauth_client_id = \"" + FakeTokenEndpoint.CLIENT_ID + "\"\n"
                + "oauth_token_endpoint = \"" + idp.url() + "\"\noauth_device_endpoint = \"" + idp.deviceUrl() + "\"\n\n"
                + "[[upstream]]\nname = \"gmail\"\nhost = \"smtp.gmail.com\"\nauth_file = \"" + tmp.resolve("gmail.secret")
                + "\"\noauth_provider = \"google\"\noauth_client_id = \"" + FakeTokenEndpoint.CLIENT_ID + "\"\n"
                + "oauth_token_endpoint = \"" + idp.url() + "\"\noauth_device_endpoint = \"" + idp.deviceUrl() + "\"\n"
                + "oauth_authorize_endpoint = \"" + idp.authorizeUrl() + "\"\n\n"
                + "[[upstream]]\nname = \"app-only\"\nhost = \"smtp.office365.com\"\nauth_file = \"" + secrets + "\"\n"
                + "oauth_provider = \"microsoft\"\noauth_grant = \"client_credentials\"\noauth_tenant = \"contoso.example\"\n"
                + "oauth_client_id = \"" + FakeTokenEndpoint.CLIENT_ID + "\"\n\n"
                + "[[upstream]]\nname = \"ses\"\nhost = \"email-smtp.eu-west-1.amazonaws.com\"\nauth_file = \""
                + tmp.resolve("ses.secret") + "\"\n\n"
                + "[[upstream]]\nname = \"lost\"\nhost = \"smtp.office365.com\"\nauth_file = \""
                + tmp.resolve("no-such-dir/x.secret") + "\"\noauth_provider = \"microsoft\"\noauth_client_id = \""
                + FakeTokenEndpoint.CLIENT_ID + "\"\noauth_token_endpoint = \"" + idp.url() + "\"\n"
                + "oauth_device_endpoint = \"" + idp.deviceUrl() + "\"\n");
    }

    @AfterEach
    void stop() {
        idp.close();
    }

    private AdminHarness.Result login(String... args) {
        List<String> a = new ArrayList<>(List.of("upstream", "login"));
        a.addAll(List.of(args));
        a.addAll(List.of("--config", conf.toString()));
        return AdminHarness.exec(tmp.resolve("none.conf"), Map.of(), "", a.toArray(String[]::new));
    }

    @Test
    void deviceSignInPollsAtTheProvidersIntervalUntilApprovedAndWritesTheRefreshToken() throws Exception {
        idp.devicePolls.add("authorization_pending");
        idp.devicePolls.add("authorization_pending");
        AdminHarness.Result r = login("ms365");
        assertEquals(Cli.OK, r.code(), r.toString());
        assertTrue(r.out().contains("https://microsoft.com/devicelogin"), r.out());
        String userCode = r.out().lines().map(String::strip).filter(l -> l.startsWith("ABCD-")).findFirst().orElse("");
        assertFalse(userCode.isEmpty(), "prints the user code: " + r.out());
        assertEquals(3, idp.pollTimes.size(), "two pending answers, then the approval");
        for (int i = 1; i < idp.pollTimes.size(); i++) {
            long gap = idp.pollTimes.get(i) - idp.pollTimes.get(i - 1);
            assertTrue(gap >= TimeUnit.MILLISECONDS.toNanos(950), "polls at the 1 s interval, got " + gap / 1e6 + " ms");
        }
        String scope = idp.deviceForms.get(0).get("scope");
        assertEquals("https://outlook.office.com/SMTP.Send offline_access", scope);
        String text = Files.readString(secrets);
        assertEquals("# signed in by relaybox upstream login\nusername=" + MAILBOX + "\nrefresh_token="
                + idp.signedInRefreshToken + "\n", text);
        assertEquals("rw-r-----", PosixFilePermissions.toString(Files.getPosixFilePermissions(secrets)),
                "the file keeps its mode");
        assertNeverShown(r);
        // What the daemon reads: the file now passes its own reader.
        assertEquals(MAILBOX, relaybox.relay.forward.Credentials.read(secrets).username());
    }

    @Test
    void slowDownAddsFiveSecondsForEveryLaterPoll() throws Exception {
        idp.devicePolls.add("authorization_pending");
        idp.devicePolls.add("slow_down");
        idp.devicePolls.add("authorization_pending");
        List<Duration> waits = new ArrayList<>();
        DeviceCodeFlow flow = new DeviceCodeFlow(new OAuthEndpoint(Duration.ofSeconds(10)), waits::add,
                new PrintStream(new ByteArrayOutputStream(), true, StandardCharsets.UTF_8));
        var reply = flow.signIn(idp.deviceUrl(), idp.url(), Map.of("client_id", FakeTokenEndpoint.CLIENT_ID),
                "s", "as x");
        assertEquals(idp.signedInRefreshToken, reply.path("refresh_token").asText());
        assertEquals(List.of(Duration.ofSeconds(1), Duration.ofSeconds(1), Duration.ofSeconds(6), Duration.ofSeconds(6)),
                waits, "interval, interval, then +5 s for good after slow_down (RFC 8628 3.5)");
    }

    @Test
    void aDeniedOrExpiredSignInEndsWithExit1AndLeavesTheFileAlone() throws Exception {
        String before = Files.readString(secrets);
        idp.deviceOutcome = "access_denied";
        AdminHarness.Result r = login("ms365");
        assertEquals(Cli.NOT_FOUND, r.code(), r.toString());
        assertTrue(r.err().contains("declined") && r.err().contains("AADSTS70000"), r.err());
        idp.deviceOutcome = "expired_token";
        r = login("ms365");
        assertEquals(Cli.NOT_FOUND, r.code(), r.toString());
        assertTrue(r.err().contains("expired") && r.err().contains("run the command again"), r.err());
        assertEquals(before, Files.readString(secrets));
        assertNeverShown(r);
    }

    @Test
    void theProvidersRefusalIsShownInItsOwnWords() throws Exception {
        idp.deviceError = "{\"error\":\"invalid_client\",\"error_description\":\"AADSTS7000218: The request body must"
                + " contain the following parameter: 'client_assertion' or 'client_secret'.\"}";
        AdminHarness.Result r = login("ms365");
        assertEquals(Cli.NOT_FOUND, r.code(), r.toString());
        assertTrue(r.err().contains("AADSTS7000218") && r.err().contains("Allow public client flows"), r.err());
        assertEquals(0, idp.pollTimes.size());
    }

    @Test
    void everyConfigurationProblemIsRefusedBeforeAnyoneSignsIn() throws Exception {
        AdminHarness.Result r = login("nosuch");
        assertEquals(Cli.USAGE, r.code(), r.toString());
        assertTrue(r.err().contains("no upstream named \"nosuch\"") && r.err().contains("ms365, gmail"), r.err());
        r = login("ses");
        assertEquals(Cli.USAGE, r.code(), r.toString());
        assertTrue(r.err().contains("does not use OAuth"), r.err());
        r = login("app-only");
        assertEquals(Cli.USAGE, r.code(), r.toString());
        assertTrue(r.err().contains("client_credentials") && r.err().contains("client_secret="), r.err());
        r = login("lost");
        assertEquals(Cli.USAGE, r.code(), r.toString());
        assertTrue(r.err().contains("directory does not exist"), r.err());
        Files.writeString(secrets, "# no username yet\n");
        r = login("ms365");
        assertEquals(Cli.USAGE, r.code(), r.toString());
        assertTrue(r.err().contains("--user"), r.err());
        Files.writeString(conf, Files.readString(conf).replace("name = \"ses\"", "name = \"ses\"\nport = \"x\""));
        r = login("ms365");
        assertEquals(Cli.USAGE, r.code(), r.toString());
        assertTrue(r.err().contains("port"), r.err());
        assertEquals(0, idp.calls.get(), "nobody was asked to sign in");
    }

    @Test
    void aNewSecretsFileIsCreatedForTheServiceUserOnly() throws Exception {
        Files.delete(secrets);
        boolean root = "root".equals(System.getProperty("user.name"));
        var nobody = tmp.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName("nobody");
        if (root) {
            // As /var/lib/relaybox belongs to the service user, while root runs the login.
            Files.setOwner(tmp, nobody);
        }
        AdminHarness.Result r = login("ms365", "--user", MAILBOX);
        assertEquals(Cli.OK, r.code(), r.toString());
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(secrets)));
        if (root) {
            assertEquals(nobody, Files.getOwner(secrets), "the directory's owner, so the daemon can read it");
        }
        assertEquals("username=" + MAILBOX + "\nrefresh_token=" + idp.signedInRefreshToken + "\n",
                Files.readString(secrets));
    }

    @Test
    void googleRefusesTheGmailScopeOnDevicesSoTheBrowserSignInIsUsed() throws Exception {
        idp.deviceRefusedScope = "https://mail.google.com/";
        idp.googleSpelling = true;
        Path gmail = tmp.resolve("gmail.secret");
        Files.writeString(gmail, "username=" + MAILBOX + "\n");
        Files.setPosixFilePermissions(gmail, PosixFilePermissions.fromString("rw-------"));
        AdminHarness.Result r = login("gmail");
        assertEquals(Cli.USAGE, r.code(), r.toString());
        assertTrue(r.err().contains("client_secret="), "Google needs the client secret first: " + r.err());
        Files.writeString(gmail, "username=" + MAILBOX + "\nclient_secret=" + idp.clientSecret + "\n");

        r = login("gmail", "--device");
        assertEquals(Cli.NOT_FOUND, r.code(), r.toString());
        assertTrue(r.err().contains("Invalid device flow scope") && r.err().contains("--browser"), r.err());

        // The browser sign-in: the test plays the browser and pastes the address it ends at.
        PipedOutputStream typed = new PipedOutputStream();
        PipedInputStream stdin = new PipedInputStream(typed);
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        Cli cli = new Cli(stdin, new PrintStream(out, true, StandardCharsets.UTF_8),
                new PrintStream(err, true, StandardCharsets.UTF_8), Map.of(), tmp.resolve("none.conf"));
        CompletableFuture<Integer> code = CompletableFuture.supplyAsync(() ->
                Main.run(new String[]{"upstream", "login", "gmail", "--config", conf.toString()}, cli));
        String url = awaitLine(out, idp.authorizeUrl());
        Map<String, String> q = BrowserCodeFlow.query(url);
        assertEquals("https://mail.google.com/", q.get("scope"));
        assertEquals("offline", q.get("access_type"), "no refresh token from Google without it");
        assertEquals("consent", q.get("prompt"));
        assertEquals("S256", q.get("code_challenge_method"));
        assertEquals(MAILBOX, q.get("login_hint"));
        String authCode = idp.approveBrowser(q.get("code_challenge"));
        typed.write((q.get("redirect_uri") + "?state=" + q.get("state") + "&code=" + authCode
                + "&scope=https%3A%2F%2Fmail.google.com%2F\n").getBytes(StandardCharsets.UTF_8));
        typed.flush();
        assertEquals(Cli.OK, code.get(30, TimeUnit.SECONDS), out + "\n" + err);
        assertTrue(out.toString(StandardCharsets.UTF_8).contains("does not allow the Gmail scope"), out.toString());
        assertEquals("http://127.0.0.1:8765/", q.get("redirect_uri"));
        Map<String, String> exchange = idp.forms.get(idp.forms.size() - 1);
        assertEquals("authorization_code", exchange.get("grant_type"));
        assertEquals(idp.clientSecret, exchange.get("client_secret"));
        assertEquals("username=" + MAILBOX + "\nclient_secret=" + idp.clientSecret + "\nrefresh_token="
                + idp.signedInRefreshToken + "\n", Files.readString(gmail));
        assertNeverShown(new AdminHarness.Result(0, out.toString(StandardCharsets.UTF_8), err.toString(StandardCharsets.UTF_8)));
    }

    @Test
    void aPastedAddressFromAnotherSignInIsRefused() throws Exception {
        AdminHarness.Result r = AdminHarness.exec(tmp.resolve("none.conf"), Map.of(),
                "http://localhost:8765/?state=someone-elses&code=abc\n",
                "upstream", "login", "ms365", "--browser", "--config", conf.toString());
        assertEquals(Cli.NOT_FOUND, r.code(), r.toString());
        assertTrue(r.err().contains("state does not match"), r.err());
        assertTrue(r.out().contains("redirect_uri=http%3A%2F%2Flocalhost%3A8765%2F"), r.out());
    }

    private static String awaitLine(ByteArrayOutputStream out, String prefix) throws InterruptedException {
        long end = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (System.nanoTime() < end) {
            for (String l : out.toString(StandardCharsets.UTF_8).split("\n")) {
                if (l.startsWith(prefix)) {
                    return l.strip();
                }
            }
            Thread.sleep(20);
        }
        throw new AssertionError("no line starting " + prefix + " in:\n" + out);
    }

    /** Nothing the provider issued (device code, refresh and access tokens) nor the client secret is printed. */
    private void assertNeverShown(AdminHarness.Result r) {
        List<String> secretValues = new ArrayList<>(idp.issued);
        secretValues.add(idp.clientSecret);
        for (String s : secretValues) {
            assertFalse(r.out().contains(s) || r.err().contains(s), "printed a secret: " + s.substring(0, 6) + "...");
        }
    }
}
