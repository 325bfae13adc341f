package relaybox.relay.forward;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.asn1.x509.BasicConstraints;
import org.bouncycastle.asn1.x509.Extension;
import org.bouncycastle.asn1.x509.GeneralName;
import org.bouncycastle.asn1.x509.GeneralNames;
import org.bouncycastle.cert.jcajce.JcaX509CertificateConverter;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import java.io.IOException;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.security.KeyStore;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.Base64;
import java.util.Date;

/**
 * The certificate fixture of every module's tests: a self-signed EC certificate for a host name,
 * made with Bouncy Castle at test time, as an SSLContext for a fake server or as the PEM files an
 * operator would hand the relay (certificate, PKCS#8 key).
 */
public final class TestCerts {

    private final X509Certificate cert;
    private final KeyPair keys;

    private TestCerts(X509Certificate cert, KeyPair keys) {
        this.cert = cert;
        this.keys = keys;
    }

    public static TestCerts selfSigned(String dnsName) {
        try {
            KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
            g.initialize(256);
            KeyPair kp = g.generateKeyPair();
            X500Name name = new X500Name("CN=" + dnsName);
            Instant now = Instant.now();
            JcaX509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(now.toEpochMilli()),
                    Date.from(now.minus(1, ChronoUnit.DAYS)), Date.from(now.plus(1, ChronoUnit.DAYS)), name,
                    kp.getPublic());
            b.addExtension(Extension.subjectAlternativeName, false,
                    new GeneralNames(new GeneralName(GeneralName.dNSName, dnsName)));
            b.addExtension(Extension.basicConstraints, true, new BasicConstraints(true));
            X509Certificate c = new JcaX509CertificateConverter()
                    .getCertificate(b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate())));
            return new TestCerts(c, kp);
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    public SSLContext serverContext() {
        try {
            KeyStore ks = KeyStore.getInstance("PKCS12");
            ks.load(null, null);
            ks.setKeyEntry("k", keys.getPrivate(), "pw".toCharArray(), new X509Certificate[] {cert});
            KeyManagerFactory kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
            kmf.init(ks, "pw".toCharArray());
            SSLContext ctx = SSLContext.getInstance("TLS");
            ctx.init(kmf.getKeyManagers(), null, null);
            return ctx;
        } catch (Exception e) {
            throw new IllegalStateException(e);
        }
    }

    /**
     * Writes a certificate for "relay.test" and its key as dir/cert.pem and dir/key.pem, as an
     * operator would have them for intake_tls_cert and intake_tls_key. Returns {cert, key}.
     */
    public static Path[] write(Path dir) throws IOException {
        TestCerts c = selfSigned("relay.test");
        return new Path[] {c.writePem(dir.resolve("cert.pem")), c.writeKeyPem(dir.resolve("key.pem"))};
    }

    /** Writes the private key as unencrypted PKCS#8 PEM ("BEGIN PRIVATE KEY"). */
    public Path writeKeyPem(Path file) throws IOException {
        Files.writeString(file, "-----BEGIN PRIVATE KEY-----\n" + pem().encodeToString(keys.getPrivate().getEncoded())
                + "\n-----END PRIVATE KEY-----\n");
        return file;
    }

    private static Base64.Encoder pem() {
        return Base64.getMimeEncoder(64, "\n".getBytes(StandardCharsets.US_ASCII));
    }

    /** Writes the certificate as PEM, for an upstream's ca_file. */
    public Path writePem(Path file) throws IOException {
        try {
            String b64 = pem().encodeToString(cert.getEncoded());
            Files.writeString(file, "-----BEGIN CERTIFICATE-----\n" + b64 + "\n-----END CERTIFICATE-----\n");
            return file;
        } catch (java.security.cert.CertificateEncodingException e) {
            throw new IOException(e);
        }
    }
}
