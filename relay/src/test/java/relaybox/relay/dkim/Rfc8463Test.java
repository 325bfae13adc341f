package relaybox.relay.dkim;

import org.junit.jupiter.api.Test;

import java.io.StringReader;
import java.nio.charset.StandardCharsets;
import java.security.KeyFactory;
import java.security.PrivateKey;
import java.security.spec.PKCS8EncodedKeySpec;
import java.util.Base64;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * RFC 8463 Appendix A: its keys, its message and its two published signatures. Both algorithms are
 * deterministic, so our canonicalisation and signing must reproduce the b= values exactly.
 */
class Rfc8463Test {

    /** A.1: the Ed25519 secret key is RFC 8032 §7.1 test 1's 32-byte seed. */
    static final String ED25519_SEED = "nWGxne/9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A=";

    /** A.1: the RSA secret key. */
    static final String RSA_PEM = """
            -----BEGIN RSA PRIVATE KEY-----
            MIICXQIBAAKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQi
            Y/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqM
            KrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB
            AoGAH0cxOhFZDgzXWhDhnAJDw5s4roOXN4OhjiXa8W7Y3rhX3FJqmJSPuC8N9vQm
            6SVbaLAE4SG5mLMueHlh4KXffEpuLEiNp9Ss3O4YfLiQpbRqE7Tm5SxKjvvQoZZe
            zHorimOaChRL2it47iuWxzxSiRMv4c+j70GiWdxXnxe4UoECQQDzJB/0U58W7RZy
            6enGVj2kWF732CoWFZWzi1FicudrBFoy63QwcowpoCazKtvZGMNlPWnC7x/6o8Gc
            uSe0ga2xAkEA8C7PipPm1/1fTRQvj1o/dDmZp243044ZNyxjg+/OPN0oWCbXIGxy
            WvmZbXriOWoSALJTjExEgraHEgnXssuk7QJBALl5ICsYMu6hMxO73gnfNayNgPxd
            WFV6Z7ULnKyV7HSVYF0hgYOHjeYe9gaMtiJYoo0zGN+L3AAtNP9huqkWlzECQE1a
            licIeVlo1e+qJ6Mgqr0Q7Aa7falZ448ccbSFYEPD6oFxiOl9Y9se9iYHZKKfIcst
            o7DUw1/hz2Ck4N5JrgUCQQCyKveNvjzkkd8HjYs0SwM0fPjK16//5qDZ2UiDGnOe
            uEzxBDAr518Z8VFbR41in3W4Y3yCDgQlLlcETrS+zYcL
            -----END RSA PRIVATE KEY-----
            """;

    /** A.2: the published key records. */
    static final Map<String, String> DNS = Map.of(
            "brisbane._domainkey.football.example.com",
            "v=DKIM1; k=ed25519; p=11qYAYKxCrfVS/7TyWQHOg7hcvPapiMlrwIaaPcHURo=",
            "test._domainkey.football.example.com",
            "v=DKIM1; k=rsa; p=MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWR"
                    + "iGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutAC"
                    + "DfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3"
                    + "Ip3G+2kryOTIKT+l/K4w3QIDAQAB");

    static final String HEADERS = crlf("""
            From: Joe SixPack <joe@football.example.com>
            To: Suzie Q <suzie@shopping.example.net>
            Subject: Is dinner ready?
            Date: Fri, 11 Jul 2003 21:00:37 -0700 (PDT)
            Message-ID: <20030712040037.46341.5F8J@football.example.com>
            """);
    static final String BODY = crlf("""
            Hi.

            We lost the game.  Are you hungry yet?

            Joe.
            """);

    /** A.3: the two DKIM-Signature fields, with the b= values cut out (they are below). */
    static final String ED_UNSIGNED = crlf("""
            DKIM-Signature: v=1; a=ed25519-sha256; c=relaxed/relaxed;
             d=football.example.com; i=@football.example.com;
             q=dns/txt; s=brisbane; t=1528637909; h=from : to :
             subject : date : message-id : from : subject : date;
             bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;
             b=""").stripTrailing();
    static final String ED_B = "/gCrinpcQOoIfuHNQIbq4pgh9kyIK3AQUdt9OdqQehSwhEIug4D11Bus\r\n"
            + " Fa3bT3FY5OsU7ZbnKELq+eXdp1Q1Dw==";
    static final String RSA_UNSIGNED = crlf("""
            DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed;
             d=football.example.com; i=@football.example.com;
             q=dns/txt; s=test; t=1528637909; h=from : to : subject :
             date : message-id : from : subject : date;
             bh=2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=;
             b=""").stripTrailing();
    static final String RSA_B = "F45dVWDfMbQDGHJFlXUNB2HKfbCeLRyhDXgFpEL8GwpsRe0IeIixNTe3\r\n"
            + " DhCVlUrSjV4BwcVcOF6+FF3Zo9Rpo1tFOeS9mPYQTnGdaSGsgeefOsk2Jz\r\n"
            + " dA+L10TeYt9BgDfQNZtKdN1WO//KgIqXP7OdEFE4LjFYNcUxZQ4FADY+8=";
    static final List<String> H = List.of("from", "to", "subject", "date", "message-id", "from", "subject", "date");

    static String crlf(String s) {
        return s.replace("\n", "\r\n");
    }

    static PrivateKey ed25519Key() throws Exception {
        // PKCS#8 wrapping of a bare Ed25519 seed (RFC 8410): fixed 16-byte prefix, then the seed.
        byte[] prefix = {0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22, 0x04, 0x20};
        byte[] seed = Base64.getDecoder().decode(ED25519_SEED);
        byte[] der = new byte[prefix.length + seed.length];
        System.arraycopy(prefix, 0, der, 0, prefix.length);
        System.arraycopy(seed, 0, der, prefix.length, seed.length);
        return KeyFactory.getInstance("Ed25519").generatePrivate(new PKCS8EncodedKeySpec(der));
    }

    static PrivateKey rsaKey() throws Exception {
        return DkimKeys.readPem(new StringReader(RSA_PEM)).getPrivate();
    }

    @Test
    void bodyHashMatchesTheRfc() {
        BodyHasher h = new BodyHasher(Canonicalization.RELAXED);
        byte[] b = BODY.getBytes(StandardCharsets.US_ASCII);
        h.update(b, 0, b.length);
        assertEquals("2jUSOH9NhtVGCQWNr9BrIAPreKQjO6Sn7XIkfJVOzv8=", Base64.getEncoder().encodeToString(h.finish()));
    }

    @Test
    void ed25519SignatureIsReproducedExactly() throws Exception {
        byte[] data = DkimSigner.headerData(Canonicalization.RELAXED, HeaderFields.parse(HEADERS), H, ED_UNSIGNED);
        byte[] sig = DkimAlgorithm.ED25519_SHA256.sign(ed25519Key(), data);
        assertEquals(ED_B.replaceAll("\\s", ""), Base64.getEncoder().encodeToString(sig));
    }

    @Test
    void rsaSignatureIsReproducedExactly() throws Exception {
        byte[] data = DkimSigner.headerData(Canonicalization.RELAXED, HeaderFields.parse(HEADERS), H, RSA_UNSIGNED);
        byte[] sig = DkimAlgorithm.RSA_SHA256.sign(rsaKey(), data);
        assertEquals(RSA_B.replaceAll("\\s", ""), Base64.getEncoder().encodeToString(sig));
    }

    @Test
    void publishedKeysMatchThePrivateKeys() throws Exception {
        assertEquals(DNS.get("test._domainkey.football.example.com"),
                DkimRecord.format(DkimAlgorithm.RSA_SHA256, DkimKeys.readPem(new StringReader(RSA_PEM)).getPublic()));
    }

    @Test
    void ourVerifierAcceptsTheRfcMessageAndRejectsATamperedOne() {
        String signed = ED_UNSIGNED + ED_B + "\r\n" + RSA_UNSIGNED + RSA_B + "\r\n" + HEADERS + "\r\n" + BODY;
        DkimVerifier v = new DkimVerifier(name -> Optional.ofNullable(DNS.get(name)));
        List<DkimVerifier.Result> r = v.verify(signed);
        assertEquals(2, r.size());
        assertTrue(r.get(0).pass() && r.get(1).pass(), "got " + r);
        List<DkimVerifier.Result> bad = v.verify(signed.replace("hungry", "Hungry"));
        assertTrue(bad.stream().noneMatch(DkimVerifier.Result::pass), "got " + bad);
    }
}
