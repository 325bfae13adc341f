package relaybox.relay.dkim;

import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.signers.Ed25519Signer;

import java.security.GeneralSecurityException;
import java.security.Key;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.Signature;
import java.security.interfaces.EdECPrivateKey;
import java.util.Locale;

/**
 * The two signing algorithms relaybox speaks, with their DKIM names and how each turns header
 * data into a signature. Owns nothing else: keys come from {@link DkimKeys}.
 */
public enum DkimAlgorithm {
    /** RFC 6376: PKCS#1 v1.5 over SHA-256 of the header data. */
    RSA_SHA256("rsa-sha256", "rsa"),
    /**
     * RFC 8463: PureEd25519 over the SHA-256 digest of the header data. Signing the digest rather
     * than the data is what the RFC specifies; signing the data directly verifies nowhere.
     */
    ED25519_SHA256("ed25519-sha256", "ed25519");

    private final String tag;
    private final String keyType;

    DkimAlgorithm(String tag, String keyType) {
        this.tag = tag;
        this.keyType = keyType;
    }

    /** The a= value. */
    public String tag() {
        return tag;
    }

    /** The k= value of the DNS key record, and the name used in config and on the command line. */
    public String keyType() {
        return keyType;
    }

    public byte[] sign(PrivateKey key, byte[] headerData) throws GeneralSecurityException {
        if (this == ED25519_SHA256 && key instanceof EdECPrivateKey ed && ed.getBytes().isPresent()) {
            // Bouncy Castle's Ed25519 signs about 15 times faster than JDK 17's (about 50 against
            // 700 µs of CPU here, see DkimBench); same deterministic signature (RFC 8032).
            Ed25519Signer s = new Ed25519Signer();
            s.init(true, new Ed25519PrivateKeyParameters(ed.getBytes().get(), 0));
            byte[] digest = input(headerData);
            s.update(digest, 0, digest.length);
            return s.generateSignature();
        }
        Signature s = newSignature();
        s.initSign(key);
        s.update(input(headerData));
        return s.sign();
    }

    public boolean verify(PublicKey key, byte[] headerData, byte[] signature) throws GeneralSecurityException {
        Signature s = newSignature();
        s.initVerify(key);
        s.update(input(headerData));
        return s.verify(signature);
    }

    private Signature newSignature() throws GeneralSecurityException {
        return Signature.getInstance(this == RSA_SHA256 ? "SHA256withRSA" : "Ed25519");
    }

    private byte[] input(byte[] headerData) throws GeneralSecurityException {
        return this == RSA_SHA256 ? headerData : MessageDigest.getInstance("SHA-256").digest(headerData);
    }

    /** The algorithm a JDK key belongs to ("RSA", or "EdDSA"/"Ed25519" for Ed25519 keys). */
    public static DkimAlgorithm of(Key key) {
        String a = key.getAlgorithm().toUpperCase(Locale.ROOT);
        return switch (a) {
            case "RSA" -> RSA_SHA256;
            case "EDDSA", "ED25519" -> ED25519_SHA256;
            default -> throw new IllegalArgumentException("not an RSA or Ed25519 key: " + key.getAlgorithm());
        };
    }

    /** By config/CLI name: "rsa" or "ed25519" (the a= names are accepted too). */
    public static DkimAlgorithm byName(String name) {
        for (DkimAlgorithm a : values()) {
            if (a.keyType.equalsIgnoreCase(name) || a.tag.equalsIgnoreCase(name)) {
                return a;
            }
        }
        throw new IllegalArgumentException("unknown DKIM algorithm: " + name + " (expected rsa or ed25519)");
    }
}
