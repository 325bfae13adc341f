package relaybox.relay.forward;

import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;
import java.io.IOException;
import java.io.InputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.Certificate;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.security.cert.X509Certificate;
import java.util.Collections;
import java.util.Map;
import java.util.WeakHashMap;

/**
 * Owns the forwarder's trust decision for one upstream (the system trust store or its
 * {@code ca_file}) and remembers which certificate chain each TLS engine was presented, so that a
 * refused certificate can be explained in an operator's words ({@link #explain}): which host,
 * which subject and issuer were presented, which trust store was used, and what to change.
 * The JDK alone says only "PKIX path building failed: unable to find valid certification path".
 * It does not relax any check: every decision is the JDK trust manager's.
 */
final class PresentedCertificates extends X509ExtendedTrustManager {

    private final X509ExtendedTrustManager delegate;
    private final Path caFile;
    /** The chain each engine was shown; weak, so finished sessions leave nothing behind. */
    private final Map<SSLEngine, X509Certificate[]> presented = Collections.synchronizedMap(new WeakHashMap<>());

    PresentedCertificates(Path caFile) throws IOException, GeneralSecurityException {
        this.caFile = caFile;
        TrustManagerFactory tmf = TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        if (caFile == null) {
            tmf.init((KeyStore) null);
        } else {
            KeyStore ks = KeyStore.getInstance(KeyStore.getDefaultType());
            ks.load(null, null);
            try (InputStream in = Files.newInputStream(caFile)) {
                int i = 0;
                for (Certificate c : CertificateFactory.getInstance("X.509").generateCertificates(in)) {
                    ks.setCertificateEntry("ca" + i++, c);
                }
            }
            tmf.init(ks);
        }
        X509ExtendedTrustManager found = null;
        for (TrustManager t : tmf.getTrustManagers()) {
            if (t instanceof X509ExtendedTrustManager x) {
                found = x;
            }
        }
        if (found == null) {
            throw new GeneralSecurityException("no X.509 trust manager available");
        }
        this.delegate = found;
    }

    /** The chain {@code engine} was presented, or null when the upstream sent none (or TLS never got that far). */
    X509Certificate[] presentedTo(SSLEngine engine) {
        return presented.get(engine);
    }

    /**
     * A refused handshake in plain words. {@code cause} is the handshake's failure; {@code chain}
     * what the upstream presented (may be null).
     */
    String explain(String host, X509Certificate[] chain, Throwable cause) {
        String store = caFile == null ? "the system trust store (" + System.getProperty("java.home")
                + "/lib/security/cacerts)" : "ca_file " + caFile;
        String detail = FailurePolicy.describe(cause);
        if (chain == null || chain.length == 0) {
            return "TLS with " + host + " failed before a certificate was checked: " + detail;
        }
        X509Certificate leaf = chain[0];
        String shown = "subject '" + leaf.getSubjectX500Principal().getName() + "', issuer '"
                + leaf.getIssuerX500Principal().getName() + "'";
        String lower = detail.toLowerCase(java.util.Locale.ROOT);
        if (lower.contains("no subject alternative") || lower.contains("no name matching")) {
            return "the certificate " + host + " presented (" + shown + ", names " + names(leaf) + ") is not for "
                    + host + "; set host to a name the certificate carries";
        }
        if (lower.contains("expired") || lower.contains("not yet valid")) {
            return "the certificate " + host + " presented (" + shown + ") is outside its validity ("
                    + leaf.getNotBefore().toInstant() + " to " + leaf.getNotAfter().toInstant() + "); the upstream"
                    + " must renew it";
        }
        return "the certificate " + host + " presented (" + shown + ") is not trusted by " + store + "; "
                + (caFile == null ? "if the upstream uses a private CA, set ca_file to that CA's PEM file"
                : "put the CA that issued it (" + leaf.getIssuerX500Principal().getName() + ") into " + caFile
                        + ", or remove ca_file to use the system trust store");
    }

    private static String names(X509Certificate c) {
        try {
            StringBuilder b = new StringBuilder();
            if (c.getSubjectAlternativeNames() != null) {
                for (java.util.List<?> n : c.getSubjectAlternativeNames()) {
                    b.append(b.length() == 0 ? "" : ", ").append(n.get(1));
                }
            }
            return b.length() == 0 ? "none" : b.toString();
        } catch (CertificateException e) {
            return "unreadable";
        }
    }

    /** One line for the upstream test: who it is, who vouches for it, against what. */
    String describe(X509Certificate[] chain, String host) {
        if (chain == null || chain.length == 0) {
            return "verified for " + host;
        }
        X509Certificate leaf = chain[0];
        return "verified for " + host + ": subject '" + leaf.getSubjectX500Principal().getName() + "', issuer '"
                + leaf.getIssuerX500Principal().getName() + "', valid until " + leaf.getNotAfter().toInstant()
                + ", trusted by " + (caFile == null ? "the system trust store" : "ca_file " + caFile);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        presented.put(engine, chain);
        delegate.checkServerTrusted(chain, authType, engine);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        delegate.checkServerTrusted(chain, authType, socket);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        delegate.checkServerTrusted(chain, authType);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
            throws CertificateException {
        delegate.checkClientTrusted(chain, authType, engine);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
            throws CertificateException {
        delegate.checkClientTrusted(chain, authType, socket);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType) throws CertificateException {
        delegate.checkClientTrusted(chain, authType);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
        return delegate.getAcceptedIssuers();
    }
}
