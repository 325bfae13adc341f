package relaybox.relay.intake;

import org.bouncycastle.asn1.x500.X500Name;
import org.bouncycastle.cert.X509v3CertificateBuilder;
import org.bouncycastle.cert.jcajce.JcaX509v3CertificateBuilder;
import org.bouncycastle.openssl.jcajce.JcaPEMWriter;
import org.bouncycastle.operator.jcajce.JcaContentSignerBuilder;

import java.io.Writer;
import java.math.BigInteger;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.KeyPair;
import java.security.KeyPairGenerator;
import java.util.Date;

/** Writes a self-signed certificate and its key as PEM files, as an operator would have them. */
final class TestCerts {
    private TestCerts() {
    }

    /** Returns {cert, key}. */
    static Path[] write(Path dir) throws Exception {
        KeyPairGenerator g = KeyPairGenerator.getInstance("EC");
        g.initialize(256);
        KeyPair kp = g.generateKeyPair();
        X500Name name = new X500Name("CN=relay.test");
        long now = System.currentTimeMillis();
        X509v3CertificateBuilder b = new JcaX509v3CertificateBuilder(name, BigInteger.valueOf(now), new Date(now - 60_000),
                new Date(now + 86_400_000L), name, kp.getPublic());
        var holder = b.build(new JcaContentSignerBuilder("SHA256withECDSA").build(kp.getPrivate()));
        Path cert = dir.resolve("cert.pem");
        Path key = dir.resolve("key.pem");
        try (Writer w = Files.newBufferedWriter(cert); JcaPEMWriter p = new JcaPEMWriter(w)) {
            p.writeObject(holder);
        }
        try (Writer w = Files.newBufferedWriter(key); JcaPEMWriter p = new JcaPEMWriter(w)) {
            p.writeObject(new org.bouncycastle.openssl.jcajce.JcaPKCS8Generator(kp.getPrivate(), null));
        }
        return new Path[] {cert, key};
    }
}
