package relaybox.relay.dkim;

import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.PublicKey;
import java.security.interfaces.RSAPublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;

/**
 * The DNS side of a key: the TXT record text (RFC 6376 §3.6.1, RFC 8463 §4.2), its tag-list
 * syntax (shared with the DKIM-Signature field), and the public key encodings: RSA keys are
 * published as SubjectPublicKeyInfo DER, Ed25519 keys as the bare 32 bytes.
 */
public final class DkimRecord {

    /** DER prefix of an Ed25519 SubjectPublicKeyInfo; the 32 key bytes follow it. */
    private static final byte[] ED25519_SPKI_PREFIX = {0x30, 0x2a, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x03,
            0x21, 0x00};

    private DkimRecord() {
    }

    public static String format(DkimAlgorithm algorithm, PublicKey key) {
        return "v=DKIM1; k=" + algorithm.keyType() + "; p=" + Base64.getEncoder().encodeToString(publicKeyData(key));
    }

    /** The bytes that p= carries, base64-decoded. */
    public static byte[] publicKeyData(PublicKey key) {
        byte[] spki = key.getEncoded();
        if (DkimAlgorithm.of(key) == DkimAlgorithm.RSA_SHA256) {
            return spki;
        }
        byte[] raw = new byte[32];
        System.arraycopy(spki, spki.length - 32, raw, 0, 32);
        return raw;
    }

    /** The public key that p= data stands for, given k=. */
    public static PublicKey publicKey(DkimAlgorithm algorithm, byte[] data) throws GeneralSecurityException {
        if (algorithm == DkimAlgorithm.RSA_SHA256) {
            return KeyFactory.getInstance("RSA").generatePublic(new X509EncodedKeySpec(data));
        }
        if (data.length != 32) {
            throw new GeneralSecurityException("an ed25519 p= must be 32 bytes, got " + data.length);
        }
        byte[] spki = new byte[ED25519_SPKI_PREFIX.length + 32];
        System.arraycopy(ED25519_SPKI_PREFIX, 0, spki, 0, ED25519_SPKI_PREFIX.length);
        System.arraycopy(data, 0, spki, ED25519_SPKI_PREFIX.length, 32);
        return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
    }

    /** Bits of an RSA key's modulus; 256 for Ed25519. */
    public static int bits(PublicKey key) {
        return key instanceof RSAPublicKey r ? r.getModulus().bitLength() : 256;
    }

    /**
     * Parses a tag-list ("a=b; c=d"). Whitespace (including folding) around tags and values is
     * dropped. Empty when the syntax is wrong or a tag repeats.
     */
    public static Optional<Map<String, String>> tags(String text) {
        Map<String, String> out = new LinkedHashMap<>();
        for (String part : text.split(";", -1)) {
            String p = part.trim();
            if (p.isEmpty()) {
                continue; // a trailing ";" is allowed
            }
            int eq = p.indexOf('=');
            if (eq <= 0) {
                return Optional.empty();
            }
            String name = p.substring(0, eq).trim();
            if (!name.matches("[A-Za-z][A-Za-z0-9_]*")) {
                return Optional.empty();
            }
            if (out.put(name, p.substring(eq + 1).trim()) != null) {
                return Optional.empty();
            }
        }
        return Optional.of(out);
    }

    /** Base64 with the whitespace that folding leaves in it removed. */
    public static byte[] base64(String value) {
        return Base64.getDecoder().decode(value.replaceAll("[\\s]", ""));
    }

    static String lower(String s) {
        return s.toLowerCase(Locale.ROOT);
    }
}
