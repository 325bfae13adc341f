package relaybox.relay.forward;

import org.junit.jupiter.api.AutoClose;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.CleanupMode;
import org.junit.jupiter.api.io.TempDir;
import relaybox.relay.config.DkimConfig;
import relaybox.relay.config.ForwardConfig;
import relaybox.relay.dkim.DkimAlgorithm;
import relaybox.relay.dkim.DkimKey;
import relaybox.relay.dkim.DkimKeys;
import relaybox.relay.dkim.DkimSigner;
import relaybox.relay.dkim.DkimVerifier;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.time.Clock;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * DSNs leave DKIM-signed: a recipient's 550 at the fake ESP makes a DSN (From:
 * MAILER-DAEMON@relay.test, the relay's host name), which arrives at the same ESP signed with the
 * key for relay.test, or, when that domain has no key and dkim_no_key = "sign_with", with the
 * default key (d=operator.example). dkimpy and Mail::DKIM verify it, as well as our verifier.
 */
class DsnSigningTest {

    private static final Duration WAIT = Duration.ofSeconds(15);

    @TempDir(cleanup = CleanupMode.ON_SUCCESS)
    Path dir;

    @AutoClose
    private final Harness h = new Harness();

    private static DkimKey rsaKey(String domain, String selector) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("RSA");
        g.initialize(2048);
        KeyPair k = g.generateKeyPair();
        return new DkimKey(domain, selector, DkimAlgorithm.RSA_SHA256, k.getPrivate(), k.getPublic(), Path.of("/none"),
                true);
    }

    private static DkimSigner signer(DkimConfig.NoKey noKey, String signWith, DkimKey... keys) {
        DkimConfig c = new DkimConfig("relaxed", "relaxed", DkimConfig.DEFAULT_HEADERS,
                DkimConfig.DEFAULT_OVERSIGN, Duration.ZERO, DkimConfig.KeyBy.FROM, false, noKey, signWith, List.of());
        return new DkimSigner(c, new DkimKeys(List.of(keys)), Clock.systemUTC());
    }

    /** One message whose only recipient fails: returns the DSN as the ESP received it, or null. */
    private byte[] dsnFor(DkimSigner signer, boolean expectDsn) throws Exception {
        try (FakeEsp esp = new FakeEsp().start()) {
            esp.reply("RCPT", "550 5.1.1 no such user", 1);
            ForwardConfig cfg = Harness.config(1, new Harness.Up("esp", esp.port()).build());
            h.dispatcher = Dispatcher.start(h.queue, cfg, h.log, Clock.systemUTC(), null, signer);
            h.enqueue("app@corp.example", List.of("gone@x.example"), Harness.message(1));
            if (!expectDsn) {
                h.await("the DSN is skipped", WAIT, () -> !h.linesWith(" forward dsn-skipped ").isEmpty());
                assertTrue(esp.received.isEmpty());
                return null;
            }
            h.await("the DSN reaches the ESP", WAIT, () -> esp.received.size() == 1);
            FakeEsp.Received dsn = esp.received.get(0);
            assertEquals("", dsn.from(), "a DSN has the null sender");
            assertEquals(List.of("app@corp.example"), dsn.to());
            return dsn.data();
        }
    }

    /** Our verifier, dkimpy and Mail::DKIM must all pass every signature; returns the d= domains. */
    private List<String> verifyEverywhere(byte[] message, DkimKey... keys) throws Exception {
        Map<String, String> dns = new java.util.HashMap<>();
        for (DkimKey k : keys) {
            dns.put(k.dnsName(), k.txtRecord());
        }
        List<DkimVerifier.Result> ours = new DkimVerifier(n -> Optional.ofNullable(dns.get(n))).verify(message);
        String text = new String(message, StandardCharsets.UTF_8);
        assertFalse(ours.isEmpty(), "no DKIM-Signature on the DSN:\n" + text);
        assertTrue(ours.stream().allMatch(DkimVerifier.Result::pass), ours + "\n" + text);
        Path eml = Files.write(dir.resolve("dsn.eml"), message);
        Path keysFile = Files.write(dir.resolve("keys.txt"),
                dns.entrySet().stream().map(e -> e.getKey() + " " + e.getValue()).toList());
        for (List<String> verifier : List.of(List.of("/usr/bin/python3", "src/test/resources/dkim/verify.py"),
                List.of("perl", "src/test/resources/dkim/verify.pl"))) {
            List<String> cmd = new ArrayList<>(verifier);
            cmd.add(keysFile.toString());
            cmd.add(eml.toString());
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            assertTrue(p.waitFor(60, TimeUnit.SECONDS), verifier + " did not finish");
            assertEquals(0, p.exitValue(), verifier.get(1) + ": " + out);
            assertEquals(ours.size(), out.lines().filter(l -> l.startsWith("pass ")).count(), verifier.get(1) + ": " + out);
        }
        return text.lines().filter(l -> l.startsWith("DKIM-Signature:"))
                .map(l -> l.replaceAll(".*\\bd=([^;]+);.*", "$1")).collect(Collectors.toList());
    }

    @Test
    void aDsnIsSignedWithTheKeyForTheRelaysHostName() throws Exception {
        DkimKey relay = rsaKey("relay.test", "dsn1");
        byte[] dsn = dsnFor(signer(DkimConfig.NoKey.REFUSE, "", relay), true);
        assertTrue(new String(dsn, StandardCharsets.US_ASCII).contains("From: Mail Delivery System <MAILER-DAEMON@relay.test>"));
        assertEquals(List.of("relay.test"), verifyEverywhere(dsn, relay));
    }

    @Test
    void underSignWithADsnFromADomainWithoutAKeyIsSignedWithTheDefaultKey() throws Exception {
        DkimKey operator = rsaKey("operator.example", "s1");
        byte[] dsn = dsnFor(signer(DkimConfig.NoKey.SIGN_WITH, "operator.example", operator), true);
        assertEquals(List.of("operator.example"), verifyEverywhere(dsn, operator));
    }

    @Test
    void underRefuseADsnWithoutAKeyIsNotSentUnsigned() throws Exception {
        dsnFor(signer(DkimConfig.NoKey.REFUSE, "", rsaKey("corp.example", "s1")), false);
        assertTrue(h.linesWith(" forward dsn-skipped ").get(0).contains("no DKIM key for domain relay.test"),
                h.lines.toString());
    }
}
