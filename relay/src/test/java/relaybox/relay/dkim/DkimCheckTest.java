package relaybox.relay.dkim;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.security.KeyPair;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code dkim check} logic against a fake DNS server on loopback. */
class DkimCheckTest {

    FakeDns dns;
    DkimCheck check;
    DkimKey rsa;
    DkimKey ed;

    @BeforeEach
    void start() throws Exception {
        dns = new FakeDns();
        check = new DkimCheck(dns.resolver());
        rsa = DkimFixtures.key("example.com", "r1", DkimFixtures.rsa());
        ed = DkimFixtures.key("example.com", "e1", DkimFixtures.ed25519());
    }

    @AfterEach
    void stop() {
        dns.close();
    }

    /** The record split into 255-character strings, as a zone file holds it. */
    static List<String> strings(String record) {
        return DkimKeygen.quotedStrings(record).stream().map(s -> s.substring(1, s.length() - 1)).toList();
    }

    static String only(List<DkimCheck.Finding> f, DkimCheck.Level level) {
        assertTrue(f.stream().anyMatch(x -> x.level() == level), "want a " + level + " finding, got " + f);
        return f.stream().filter(x -> x.level() == level).findFirst().orElseThrow().text();
    }

    @Test
    void publishedKeysMatch() {
        dns.txt(rsa.dnsName(), strings(rsa.txtRecord())).txt(ed.dnsName(), strings(ed.txtRecord()));
        assertTrue(only(check.checkKey(rsa), DkimCheck.Level.OK).startsWith("match"));
        assertTrue(only(check.checkKey(ed), DkimCheck.Level.OK).startsWith("match"));
        assertEquals(1, check.checkKey(rsa).size(), "no warnings for a 2048-bit key");
    }

    @Test
    void missingRecord() {
        assertTrue(only(check.checkKey(rsa), DkimCheck.Level.ERROR).startsWith("missing record"));
    }

    @Test
    void wrongKey() {
        KeyPair other = DkimFixtures.idnRsa();
        dns.txt(rsa.dnsName(), strings(DkimRecord.format(DkimAlgorithm.RSA_SHA256, other.getPublic())));
        assertTrue(only(check.checkKey(rsa), DkimCheck.Level.ERROR).startsWith("wrong key"));
        dns.txt(ed.dnsName(), strings(rsa.txtRecord()));
        assertTrue(only(check.checkKey(ed), DkimCheck.Level.ERROR).startsWith("wrong key"));
    }

    @Test
    void badSyntax() {
        dns.txt(rsa.dnsName(), List.of("v=DKIM1; k=rsa; p=not*base64"));
        assertTrue(only(check.checkKey(rsa), DkimCheck.Level.ERROR).startsWith("bad syntax"));
        dns.txt(rsa.dnsName(), List.of("v=DKIM1; this is not a tag list; p=abc"));
        assertTrue(only(check.checkKey(rsa), DkimCheck.Level.ERROR).startsWith("bad syntax"));
        dns.txt(rsa.dnsName(), strings("k=rsa; v=DKIM1; p=" + rsa.txtRecord().split("p=")[1]));
        assertTrue(only(check.checkKey(rsa), DkimCheck.Level.ERROR).startsWith("bad syntax"), check.checkKey(rsa).toString());
    }

    @Test
    void testingFlagIsAWarning() {
        dns.txt(ed.dnsName(), List.of(ed.txtRecord().replace("k=ed25519;", "k=ed25519; t=y;")));
        List<DkimCheck.Finding> f = check.checkKey(ed);
        assertTrue(only(f, DkimCheck.Level.WARN).startsWith("testing flag t=y"));
        assertTrue(only(f, DkimCheck.Level.OK).startsWith("match"));
    }

    @Test
    void shortKeys() {
        KeyPair small = DkimFixtures.generate("RSA", 512);
        DkimKey k = DkimFixtures.key("example.com", "old", small);
        dns.txt(k.dnsName(), strings(k.txtRecord()));
        assertTrue(only(check.checkKey(k), DkimCheck.Level.ERROR).startsWith("key too short"));
        DkimKey k1024 = DkimFixtures.key("example.com", "k1024", DkimFixtures.idnRsa());
        dns.txt(k1024.dnsName(), strings(k1024.txtRecord()));
        assertTrue(only(check.checkKey(k1024), DkimCheck.Level.WARN).startsWith("key too short for comfort"));
    }

    @Test
    void revokedAndDuplicateRecords() {
        dns.txt(rsa.dnsName(), List.of("v=DKIM1; k=rsa; p="));
        assertTrue(only(check.checkKey(rsa), DkimCheck.Level.ERROR).startsWith("revoked"));
        dns.txt(ed.dnsName(), List.of(ed.txtRecord()), List.of(ed.txtRecord() + "; t=y"));
        assertTrue(only(check.checkKey(ed), DkimCheck.Level.ERROR).startsWith("several key records"));
    }

    @Test
    void spf() {
        dns.txt("example.com", List.of("v=spf1 include:amazonses.com -all"), List.of("google-site-verification=x"));
        assertEquals(DkimCheck.Level.OK, check.checkSpf("example.com", "email-smtp.eu-west-1.amazonaws.com").level());
        assertEquals(DkimCheck.Level.WARN, check.checkSpf("example.com", "smtp.sendgrid.net").level());
        assertTrue(check.checkSpf("example.com", "smtp.sendgrid.net").text().contains("include:sendgrid.net"));
        dns.txt("other.example", List.of("v=spf1 a:smtp.relay.esp.example ~all"));
        assertEquals(DkimCheck.Level.OK, check.checkSpf("other.example", "smtp.relay.esp.example").level());
        assertTrue(check.checkSpf("other.example", "mail.unknown.example").text().contains("cannot tell"));
        dns.txt("two.example", List.of("v=spf1 -all"), List.of("v=spf1 +all"));
        assertEquals(DkimCheck.Level.ERROR, check.checkSpf("two.example", "x.example").level());
        assertTrue(check.checkSpf("none.example", "x.example").text().contains("no TXT records"));
        dns.txt("split.example", List.of("v=spf1 include:spf.mail", "sender.example -all"));
        assertEquals(DkimCheck.Level.OK, check.checkSpf("split.example", "smtp.mailsender.example").level());
        dns.txt("suffix.example", List.of("v=spf1 include:spf.other.co.uk -all"));
        assertTrue(check.checkSpf("suffix.example", "smtp.esp.co.uk").text().contains("cannot tell"));
    }
}
