package relaybox.relay.dkim;

import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import org.bouncycastle.crypto.params.AsymmetricKeyParameter;
import org.bouncycastle.crypto.params.Ed25519PrivateKeyParameters;
import org.bouncycastle.crypto.params.RSAPrivateCrtKeyParameters;
import org.bouncycastle.crypto.util.PrivateKeyFactory;
import org.bouncycastle.crypto.util.SubjectPublicKeyInfoFactory;
import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.openssl.jcajce.JcaPEMKeyConverter;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.DkimConfig;

import java.io.IOException;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.security.GeneralSecurityException;
import java.security.KeyFactory;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.security.PublicKey;
import java.security.spec.X509EncodedKeySpec;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Owns the signing keys: reads every configured PEM file once, at start, refuses unsafe ones, and
 * answers "which keys sign mail for this domain". Does not sign and does not touch DNS.
 *
 * <p>Refused at start (the daemon does not run): a key file that other users can read or write,
 * or that is group-writable, or group-readable when its group is not the daemon's own (effective)
 * group; an RSA key under 1024 bits; a key that is not RSA or Ed25519; two active keys of the same
 * algorithm for one domain. Warned: RSA under 2048 bits. So the packaged layouts {@code 0600
 * relaybox:relaybox} and {@code 0640 root:relaybox} both load, and {@code 0644} never does.
 */
public final class DkimKeys {

    private static final Logger LOG = LoggerFactory.getLogger(DkimKeys.class);
    public static final int MIN_RSA_BITS = 1024;
    public static final int WARN_RSA_BITS = 2048;

    private final List<DkimKey> keys;

    public DkimKeys(List<DkimKey> keys) {
        this.keys = List.copyOf(keys);
    }

    /** Loads every [[dkim_key]]; errors name the config table and the file. */
    public static DkimKeys load(DkimConfig config) throws ConfigException {
        return load(config, LOG::warn);
    }

    public static DkimKeys load(DkimConfig config, Consumer<String> warn) throws ConfigException {
        return load(config, warn, true);
    }

    /**
     * @param daemon true for the daemon: unsafe permissions refuse the key. false for tools such as
     *               {@code relaybox dkim check}, often run as root, which cannot know the daemon's
     *               group: unsafe permissions are only warned about.
     */
    public static DkimKeys load(DkimConfig config, Consumer<String> warn, boolean daemon) throws ConfigException {
        List<DkimKey> out = new ArrayList<>();
        Set<String> active = new HashSet<>();
        for (DkimConfig.KeySpec s : config.keys()) {
            String where = s.where() + ".key_file: " + s.keyFile();
            if (daemon) {
                checkPermissions(s.keyFile(), where);
            } else {
                try {
                    checkPermissions(s.keyFile(), where, false);
                } catch (ConfigException e) {
                    warn.accept(e.getMessage());
                }
            }
            KeyPair pair;
            try {
                pair = readPem(s.keyFile());
            } catch (IOException | GeneralSecurityException | RuntimeException e) {
                throw new ConfigException(where + ": cannot read the private key: " + e.getMessage(), e);
            }
            DkimAlgorithm alg;
            try {
                alg = DkimAlgorithm.of(pair.getPrivate());
            } catch (IllegalArgumentException e) {
                throw new ConfigException(where + ": " + e.getMessage());
            }
            if (s.algorithm() != null && DkimAlgorithm.byName(s.algorithm()) != alg) {
                throw new ConfigException(where + ": the file holds an " + alg.keyType() + " key but algorithm = \""
                        + s.algorithm() + "\"");
            }
            int bits = DkimRecord.bits(pair.getPublic());
            if (alg == DkimAlgorithm.RSA_SHA256 && bits < MIN_RSA_BITS) {
                throw new ConfigException(where + ": RSA key of " + bits + " bits; verifiers ignore keys under "
                        + MIN_RSA_BITS + " bits (RFC 8301); generate a 2048-bit key");
            }
            if (alg == DkimAlgorithm.RSA_SHA256 && bits < WARN_RSA_BITS) {
                warn.accept(where + ": RSA key of " + bits + " bits; 2048 bits is recommended (RFC 8301)");
            }
            if (s.active() && !active.add(s.domain() + "/" + alg)) {
                throw new ConfigException(s.where() + ".active: a second active " + alg.keyType() + " key for "
                        + s.domain() + "; only one per algorithm may sign, set active = false on the others");
            }
            out.add(new DkimKey(s.domain(), s.selector(), alg, pair.getPrivate(), pair.getPublic(), s.keyFile(),
                    s.active()));
        }
        return new DkimKeys(out);
    }

    public List<DkimKey> all() {
        return keys;
    }

    /**
     * The active keys for mail from {@code domain}: those configured for exactly that domain, or,
     * when {@code parents} is on and it has none, those of the nearest parent domain that has any
     * (never a bare top-level name).
     */
    public List<DkimKey> activeFor(String domain, boolean parents) {
        String d = domain;
        while (true) {
            List<DkimKey> found = new ArrayList<>();
            for (DkimKey k : keys) {
                if (k.active() && k.domain().equals(d)) {
                    found.add(k);
                }
            }
            if (!found.isEmpty() || !parents) {
                return found;
            }
            int dot = d.indexOf('.');
            if (dot < 0 || d.indexOf('.', dot + 1) < 0) {
                return List.of();
            }
            d = d.substring(dot + 1);
        }
    }

    /**
     * Refuses key files others can read. "Others" means: the other-class bits, group write, and
     * group read unless the file's group is this process's effective group (the service group in
     * the packaged {@code 0640 root:relaybox} layout).
     */
    public static void checkPermissions(Path file, String where) throws ConfigException {
        checkPermissions(file, where, true);
    }

    /**
     * @param judgeGroup false when the caller is not the daemon and so cannot tell whether the
     *                   file's group is the daemon's: group read is then not judged
     */
    static void checkPermissions(Path file, String where, boolean judgeGroup) throws ConfigException {
        Set<PosixFilePermission> perms;
        int fileGid;
        try {
            perms = Files.getPosixFilePermissions(file);
            fileGid = (Integer) Files.getAttribute(file, "unix:gid");
        } catch (UnsupportedOperationException e) {
            LOG.warn("{}: cannot check permissions on this file system", where);
            return;
        } catch (IOException e) {
            throw new ConfigException(where + ": cannot read: " + e, e);
        }
        String mode = java.nio.file.attribute.PosixFilePermissions.toString(perms);
        if (perms.contains(PosixFilePermission.OTHERS_READ) || perms.contains(PosixFilePermission.OTHERS_WRITE)) {
            throw new ConfigException(where + ": other users can read or write this private key (mode " + mode
                    + "); run chmod 600 on it");
        }
        if (perms.contains(PosixFilePermission.GROUP_WRITE)) {
            throw new ConfigException(where + ": group-writable private key (mode " + mode + "); run chmod 600 on it");
        }
        if (perms.contains(PosixFilePermission.GROUP_READ) && judgeGroup) {
            Optional<Integer> ownGid = effectiveGid();
            if (ownGid.isEmpty() || ownGid.get() != fileGid) {
                throw new ConfigException(where + ": group-readable private key (mode " + mode + ") whose group (gid "
                        + fileGid + ") is not the daemon's own group; run chmod 600, or chgrp it to the service group");
            }
        }
    }

    /** The process's effective gid, from /proc (Linux); empty elsewhere, which refuses group-read keys. */
    static Optional<Integer> effectiveGid() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("Gid:")) {
                    return Optional.of(Integer.parseInt(line.substring(4).trim().split("\\s+")[1]));
                }
            }
        } catch (IOException | RuntimeException e) {
            LOG.debug("no /proc/self/status", e);
        }
        return Optional.empty();
    }

    /** Reads a PEM private key: PKCS#1 ("RSA PRIVATE KEY") or PKCS#8 ("PRIVATE KEY"), RSA or Ed25519. */
    public static KeyPair readPem(Path file) throws IOException, GeneralSecurityException {
        try (Reader r = Files.newBufferedReader(file, StandardCharsets.US_ASCII)) {
            return readPem(r);
        }
    }

    public static KeyPair readPem(Reader reader) throws IOException, GeneralSecurityException {
        Object o;
        try (PEMParser p = new PEMParser(reader)) {
            o = p.readObject();
        }
        PrivateKeyInfo info;
        if (o instanceof PEMKeyPair kp) {
            info = kp.getPrivateKeyInfo();
        } else if (o instanceof PrivateKeyInfo pki) {
            info = pki;
        } else if (o == null) {
            throw new IOException("no PEM private key found");
        } else {
            throw new IOException("not an unencrypted private key (PEM holds " + o.getClass().getSimpleName() + ")");
        }
        PrivateKey priv = new JcaPEMKeyConverter().getPrivateKey(info);
        return new KeyPair(publicOf(info), priv);
    }

    /** Derives the public key, since PKCS#8 files need not carry it. */
    private static PublicKey publicOf(PrivateKeyInfo info) throws IOException, GeneralSecurityException {
        AsymmetricKeyParameter k = PrivateKeyFactory.createKey(info);
        if (k instanceof RSAPrivateCrtKeyParameters rsa) {
            return KeyFactory.getInstance("RSA").generatePublic(
                    new java.security.spec.RSAPublicKeySpec(rsa.getModulus(), rsa.getPublicExponent()));
        }
        if (k instanceof Ed25519PrivateKeyParameters ed) {
            byte[] spki = SubjectPublicKeyInfoFactory.createSubjectPublicKeyInfo(ed.generatePublicKey()).getEncoded();
            return KeyFactory.getInstance("Ed25519").generatePublic(new X509EncodedKeySpec(spki));
        }
        throw new GeneralSecurityException("not an RSA or Ed25519 key: " + k.getClass().getSimpleName());
    }
}
