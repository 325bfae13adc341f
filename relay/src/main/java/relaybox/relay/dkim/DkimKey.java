package relaybox.relay.dkim;

import java.nio.file.Path;
import java.security.PrivateKey;
import java.security.PublicKey;

/**
 * One loaded signing key: where it signs (domain and selector), with what, and whether it signs
 * new mail. Immutable.
 *
 * @param domain    d= domain, lower case, A-labels
 * @param selector  s= selector
 * @param algorithm from the key itself
 * @param privateKey the signing key
 * @param publicKey  its public half, for the DNS record and for checks
 * @param file       the PEM file it came from
 * @param active     signs new mail; inactive keys are kept for {@code relaybox dkim check} during rotation
 */
public record DkimKey(String domain, String selector, DkimAlgorithm algorithm, PrivateKey privateKey,
                      PublicKey publicKey, Path file, boolean active) {

    /** "domain/selector", the form used in log lines. */
    public String label() {
        return domain + "/" + selector;
    }

    /** The DNS name the public key is published at. */
    public String dnsName() {
        return selector + "._domainkey." + domain;
    }

    /** The TXT record to publish for this key. */
    public String txtRecord() {
        return DkimRecord.format(algorithm, publicKey);
    }
}
