package relaybox.relay.dkim;

import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;

import java.io.IOException;
import java.io.StringWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.FileAlreadyExistsException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.GeneralSecurityException;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.ArrayList;
import java.util.List;

/**
 * Owns making a new signing key: generates it with the JDK, writes it as PKCS#8 PEM in a file
 * created with mode 0600 (never overwriting one, so a rotation cannot destroy the key still
 * signing), and says what to publish in DNS and what to add to relaybox.conf.
 */
public final class DkimKeygen {

    public static final int DEFAULT_RSA_BITS = 2048;

    /** What was written and what the operator must do with it. */
    public record Result(Path keyFile, DkimKey key) {

        /** The zone-file line to publish; long records are split into strings of at most 255 bytes. */
        public String zoneLine() {
            return key.dnsName() + ". IN TXT ( " + String.join("\n    ", quotedStrings(key.txtRecord())) + " )";
        }

        /** The [[dkim_key]] table for relaybox.conf. */
        public String configSnippet() {
            return "[[dkim_key]]\n"
                    + "domain = \"" + key.domain() + "\"\n"
                    + "selector = \"" + key.selector() + "\"\n"
                    + "key_file = \"" + keyFile + "\"\n"
                    + "algorithm = \"" + key.algorithm().keyType() + "\"\n"
                    + "active = true\n";
        }
    }

    private DkimKeygen() {
    }

    /**
     * @param bits RSA modulus size (1024 or more, 2048 by default); ignored for Ed25519
     * @param dir  where the key goes, as {@code DOMAIN.SELECTOR.pem}; created (0700) if missing
     */
    public static Result generate(String domain, String selector, DkimAlgorithm algorithm, int bits, Path dir)
            throws IOException, GeneralSecurityException {
        String d = HeaderFields.domainOf(domain).orElseThrow(() ->
                new IllegalArgumentException("not a domain name: " + domain));
        if (!selector.matches("[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*")) {
            throw new IllegalArgumentException("not a valid selector: " + selector + " (letters, digits, '-', '.')");
        }
        if (algorithm == DkimAlgorithm.RSA_SHA256 && bits < DkimKeys.MIN_RSA_BITS) {
            throw new IllegalArgumentException("RSA keys under " + DkimKeys.MIN_RSA_BITS
                    + " bits are ignored by verifiers (RFC 8301); use 2048");
        }
        KeyPairGenerator g = KeyPairGenerator.getInstance(algorithm == DkimAlgorithm.RSA_SHA256 ? "RSA" : "Ed25519");
        if (algorithm == DkimAlgorithm.RSA_SHA256) {
            g.initialize(bits);
        }
        KeyPair pair = g.generateKeyPair();
        if (!Files.isDirectory(dir)) {
            Files.createDirectories(dir, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rwx------")));
        }
        Path file = dir.resolve(d + "." + selector + ".pem");
        if (Files.exists(file)) {
            throw new FileAlreadyExistsException(file + " (keys are never overwritten; pick a new selector)");
        }
        byte[] pem = pkcs8Pem(pair).getBytes(StandardCharsets.US_ASCII);
        // Created 0600 from the start: there is no moment at which the file is readable by others.
        Files.createFile(file, PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
        Files.write(file, pem, StandardOpenOption.TRUNCATE_EXISTING);
        return new Result(file, new DkimKey(d, selector, algorithm, pair.getPrivate(), pair.getPublic(), file, true));
    }

    static String pkcs8Pem(KeyPair pair) throws IOException {
        StringWriter s = new StringWriter();
        try (Writer w = s; JcaPEMWriter pw = new JcaPEMWriter(w)) {
            pw.writeObject(new JcaPKCS8Generator(pair.getPrivate(), null));
        }
        return s.toString();
    }

    /** A TXT value as zone-file strings of at most 255 characters each. */
    public static List<String> quotedStrings(String value) {
        List<String> out = new ArrayList<>();
        for (int i = 0; i < value.length(); i += 255) {
            out.add("\"" + value.substring(i, Math.min(value.length(), i + 255)) + "\"");
        }
        return out;
    }
}
