package relaybox.relay.dkim;

import org.junit.jupiter.api.Test;
import relaybox.relay.config.DkimConfig;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class DkimSignerTest {

    static final byte[] MESSAGE = DkimFixtures.crlf("""
            From: App <app@example.com>
            To: user@example.net
            Subject: hi

            Body.
            """);

    static DkimSigner signer(DkimConfig c) {
        return new DkimSigner(c, DkimFixtures.keys(), DkimFixtures.CLOCK);
    }

    static DkimConfig with(Duration expiry, DkimConfig.KeyBy keyBy, boolean subdomains, DkimConfig.NoKey noKey) {
        return new DkimConfig("relaxed", "relaxed", DkimConfig.DEFAULT_HEADERS,
                DkimConfig.DEFAULT_OVERSIGN, expiry, keyBy, subdomains, noKey, List.of());
    }

    static DkimConfig defaults() {
        return with(Duration.ZERO, DkimConfig.KeyBy.FROM, false, DkimConfig.NoKey.SEND_UNSIGNED);
    }

    static Map<String, String> tags(String field) {
        return DkimRecord.tags(field.substring(field.indexOf(':') + 1)).orElseThrow();
    }

    static List<String> fields(String signatures) {
        return HeaderFields.parse(signatures).fields().stream().map(HeaderFields.Field::raw).toList();
    }

    @Test
    void dualSignsWithTimestampOverSignedFromAndFoldedLines() throws Exception {
        String sigs = signer(defaults()).begin(null).finishWith(MESSAGE, "");
        List<String> f = fields(sigs);
        assertEquals(2, f.size(), sigs);
        Map<String, String> rsa = tags(f.get(0));
        Map<String, String> ed = tags(f.get(1));
        assertEquals("rsa-sha256", rsa.get("a"));
        assertEquals("ed25519-sha256", ed.get("a"));
        assertEquals("relaxed/relaxed", rsa.get("c"));
        assertEquals("example.com", rsa.get("d"));
        assertEquals("r1", rsa.get("s"));
        assertEquals(String.valueOf(DkimFixtures.CLOCK.instant().getEpochSecond()), rsa.get("t"));
        assertFalse(rsa.containsKey("x"));
        assertEquals("from:from:to:subject", rsa.get("h").replaceAll("\\s", ""));
        for (String line : sigs.split("\r\n")) {
            assertTrue(line.length() <= 78, "line too long: " + line);
        }
    }

    @Test
    void expiryAddsX() throws Exception {
        String sigs = signer(with(Duration.ofDays(7), DkimConfig.KeyBy.FROM, false, DkimConfig.NoKey.SEND_UNSIGNED))
                .begin(null).finishWith(MESSAGE, "");
        Map<String, String> t = tags(fields(sigs).get(0));
        assertEquals(Long.parseLong(t.get("t")) + 7 * 86400, Long.parseLong(t.get("x")));
    }

    @Test
    void addedHeadersAreSignedAndVerify() throws Exception {
        String added = "Received: from x by y; Sun, 22 Nov 2026 12:00:00 +0000\r\nMessage-ID: <id@relay>\r\n";
        byte[] out = DkimFixtures.sign(signer(defaults()), MESSAGE, added, 7);
        List<DkimVerifier.Result> r = DkimFixtures.verifier().verify(out);
        assertTrue(r.size() == 2 && r.stream().allMatch(DkimVerifier.Result::pass), r.toString());
        assertTrue(tags(fields(new String(out, StandardCharsets.UTF_8).split("\r\nReceived")[0] + "\r\n").get(0))
                .get("h").contains("message-id"));
        String changed = new String(out, StandardCharsets.UTF_8).replace("<id@relay>", "<other@relay>");
        assertTrue(DkimFixtures.verifier().verify(changed).stream().noneMatch(DkimVerifier.Result::pass));
    }

    @Test
    void noKeyForDomainSendsUnsignedOrRefuses() throws Exception {
        byte[] other = DkimFixtures.crlf("From: a@unknown.example\nSubject: x\n\nb\n");
        DkimSigner.Session s = signer(defaults()).begin(null);
        assertEquals("", s.finishWith(other, ""));
        assertEquals("-", s.summary());
        assertEquals(List.of(), s.signedBy());
        MessageSigner.SigningException e = assertThrows(MessageSigner.SigningException.class, () ->
                signer(with(Duration.ZERO, DkimConfig.KeyBy.FROM, false, DkimConfig.NoKey.REFUSE)).begin(null)
                        .finishWith(other, ""));
        assertTrue(e.permanent());
        assertTrue(e.getMessage().contains("unknown.example"), e.getMessage());
    }

    @Test
    void missingOrRepeatedFromFollowsTheNoKeyPolicy() {
        DkimSigner refuse = signer(with(Duration.ZERO, DkimConfig.KeyBy.FROM, false, DkimConfig.NoKey.REFUSE));
        for (String m : List.of("Subject: x\n\nb\n", "From: a@example.com\nFrom: b@example.com\n\nb\n")) {
            MessageSigner.SigningException e = assertThrows(MessageSigner.SigningException.class,
                    () -> refuse.begin(null).finishWith(DkimFixtures.crlf(m), ""));
            assertTrue(e.permanent() && e.getMessage().contains("no signing domain"), e.getMessage());
        }
    }

    @Test
    void subdomainUsesParentKeyOnlyWhenEnabled() throws Exception {
        byte[] sub = DkimFixtures.crlf("From: a@mail.eu.example.com\nSubject: x\n\nb\n");
        assertEquals("", signer(defaults()).begin(null).finishWith(sub, ""));
        DkimSigner.Session s = signer(with(Duration.ZERO, DkimConfig.KeyBy.FROM, true, DkimConfig.NoKey.REFUSE)).begin(null);
        String sigs = s.finishWith(sub, "");
        assertEquals("example.com", tags(fields(sigs).get(0)).get("d"));
        assertEquals("example.com/r1,example.com/e1", s.summary());
        // What the log and the metrics take: the d= and s= of each signature made, in order.
        assertEquals(List.of(new MessageSigner.SignedBy("example.com", "r1"), new MessageSigner.SignedBy("example.com",
                "e1")), s.signedBy());
        assertEquals(tags(fields(sigs).get(1)).get("s"), s.signedBy().get(1).selector());
    }

    @Test
    void senderDomainPicksTheKeyWhenConfiguredAndGiven() throws Exception {
        byte[] m = DkimFixtures.crlf("From: a@unknown.example\nSubject: x\n\nb\n");
        DkimSigner bySender = signer(with(Duration.ZERO, DkimConfig.KeyBy.SENDER, false, DkimConfig.NoKey.REFUSE));
        assertEquals("example.com", tags(fields(bySender.begin("bounce@example.com").finishWith(m, "")).get(0)).get("d"));
        // the null sender (a bounce) falls back to the From domain
        assertThrows(MessageSigner.SigningException.class, () -> bySender.begin("").finishWith(m, ""));
    }

    @Test
    void oversizedHeaderSectionIsRefusedPermanently() {
        byte[] big = DkimFixtures.crlf("From: a@example.com\nX-Big: " + "a".repeat(DkimSigner.MAX_HEADER_BYTES) + "\n\nb\n");
        MessageSigner.SigningException e = assertThrows(MessageSigner.SigningException.class,
                () -> signer(defaults()).begin(null).finishWith(big, ""));
        assertTrue(e.permanent());
    }

    @Test
    void messageWithoutHeaderFieldsOrWithoutBodyIsHandled() throws Exception {
        // Only the added headers carry a From: the client sent just a body.
        byte[] bodyOnly = DkimFixtures.crlf("\nJust a body.\n");
        byte[] out = DkimFixtures.sign(signer(defaults()), bodyOnly, "From: a@example.com\r\n", 3);
        assertTrue(DkimFixtures.verifier().verify(out).stream().allMatch(DkimVerifier.Result::pass));
        byte[] headersOnly = DkimFixtures.crlf("From: a@example.com\nSubject: no body\n");
        byte[] out2 = DkimFixtures.sign(signer(defaults()), headersOnly, "", 4);
        List<DkimVerifier.Result> r = DkimFixtures.verifier().verify(out2);
        assertTrue(!r.isEmpty() && r.stream().allMatch(DkimVerifier.Result::pass), r.toString());
    }

    @Test
    void obsoleteSpaceBeforeColonAndMissingFinalCrlfVerify() throws Exception {
        for (Canonicalization hc : Canonicalization.values()) {
            for (Canonicalization bc : Canonicalization.values()) {
                byte[] m = DkimFixtures.crlf("From : a@example.com\nSubject :  x  \n\nlast line without CRLF");
                byte[] out = DkimFixtures.sign(DkimFixtures.signer(hc, bc), m, "", 5);
                List<DkimVerifier.Result> r = DkimFixtures.verifier().verify(out);
                assertTrue(r.size() == 2 && r.stream().allMatch(DkimVerifier.Result::pass), hc + "/" + bc + " " + r);
            }
        }
    }

    @Test
    void sameBytesGiveTheSameSignatureWhateverTheChunking() throws Exception {
        byte[] m = DkimCorpus.messages().get("multipart-attachment");
        String first = new String(DkimFixtures.sign(signer(defaults()), m, "", 1), StandardCharsets.UTF_8);
        for (long seed = 2; seed < 12; seed++) {
            assertEquals(first, new String(DkimFixtures.sign(signer(defaults()), m, "", seed), StandardCharsets.UTF_8));
        }
    }

    @Test
    void verifierFindsNoKeyForUnpublishedSelector() throws Exception {
        byte[] out = DkimFixtures.sign(signer(defaults()), MESSAGE, "", 1);
        List<DkimVerifier.Result> r = new DkimVerifier(n -> Optional.empty()).verify(out);
        assertTrue(r.stream().allMatch(x -> !x.pass() && x.reason().equals("no key record")), r.toString());
    }
}
