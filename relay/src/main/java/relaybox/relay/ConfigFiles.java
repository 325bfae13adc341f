package relaybox.relay;

import org.bouncycastle.openssl.PEMKeyPair;
import org.bouncycastle.openssl.PEMParser;
import org.bouncycastle.asn1.pkcs.PrivateKeyInfo;
import relaybox.relay.config.ConfigException;
import relaybox.relay.config.SecretFiles;
import relaybox.relay.config.RelayConfig;
import relaybox.relay.config.UpstreamConfig;
import relaybox.relay.dkim.DkimKeys;

import java.io.IOException;
import java.io.InputStream;
import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.AccessDeniedException;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.cert.CertificateException;
import java.security.cert.CertificateFactory;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Consumer;

/**
 * Owns checking every file the configuration names, before anything starts: {@code auth_file},
 * {@code ca_file}, each {@code dkim_key} {@code key_file}, {@code intake_tls_cert} and
 * {@code intake_tls_key}, {@code intake_auth_credentials}. Each must exist, be readable, have a
 * safe mode if it holds a secret, and parse as what it is. {@code relaybox config check} and the
 * daemon's start run the same checks, so a file that would stop the daemon is reported by the
 * check, and the daemon stops once (exit 78, which the unit does not restart) with the key and
 * the file named, never with a stack trace and a restart loop.
 *
 * <p>It does not own the parsers: each stage's own reader is called ({@link
 * relaybox.relay.forward.Credentials}, {@link DkimKeys}, {@link relaybox.relay.intake.Credentials});
 * a file accepted here is one the stage will accept. Mode rules for secrets are a {@link ModeRule}
 * so a stricter policy can be plugged in.
 *
 * <p>Message shape, as every config error: {@code CONFIG: KEY: what is wrong (got "FILE")}.
 */
public final class ConfigFiles {

    /** What a named file holds; decides which mode rule and which parser apply. */
    public enum Kind { UPSTREAM_SECRET, CA_CERTIFICATES, DKIM_KEY, TLS_CERTIFICATE, TLS_KEY, INTAKE_CREDENTIALS;

        /** True for files whose content must not be readable by other users. */
        public boolean secret() {
            return this == UPSTREAM_SECRET || this == DKIM_KEY || this == TLS_KEY || this == INTAKE_CREDENTIALS;
        }
    }

    /**
     * One file the configuration names.
     *
     * @param source the config file, as error messages start with it
     * @param key    the key as the file spells it ("upstream[0].auth_file")
     * @param file   the path given
     * @param kind   what it holds
     */
    public record NamedFile(String source, String key, Path file, Kind kind) {
        ConfigException error(String what) {
            return new ConfigException(source + ": " + key + ": " + what + " (got \"" + file + "\")");
        }
    }

    /** Judges a file's mode; throws naming the key when it is unsafe. */
    @FunctionalInterface
    public interface ModeRule {
        void check(NamedFile f, Set<PosixFilePermission> mode) throws ConfigException;
    }

    /**
     * The default: a secret may not be readable or writable by other users (0600 or 0640).
     * Passwords (auth_file, intake_auth_credentials) follow {@link SecretFiles}: besides, only
     * the service's group may read them, so an operator group cannot. Keys and certificates may
     * be group-readable by a shared group (ssl-cert) that the service is a member of.
     */
    public static final ModeRule NO_OTHERS = (f, mode) -> {
        if (f.kind() == Kind.UPSTREAM_SECRET || f.kind() == Kind.INTAKE_CREDENTIALS) {
            SecretFiles.check(f.source(), f.key(), f.file());
        } else if (f.kind().secret() && (mode.contains(PosixFilePermission.OTHERS_READ)
                || mode.contains(PosixFilePermission.OTHERS_WRITE) || mode.contains(PosixFilePermission.GROUP_WRITE))) {
            throw f.error("other users can read or write this secret (mode " + PosixFilePermissions.toString(mode)
                    + "); run chmod 600 on it (or 640 with the service group)");
        }
    };

    private final ModeRule modeRule;
    private final boolean daemon;
    /** When checking as root for the daemon's user: whether that user can read each file. */
    private ServiceUser serviceUser;

    /**
     * The daemon's user as /etc/passwd and /etc/group describe it, for {@code config check} run as
     * root: root reads everything, so "readable" alone would say nothing about the daemon.
     */
    public record ServiceUser(String name, int uid, Set<Integer> gids) {

        /** The user {@code name} from /etc/passwd and /etc/group, or null when there is none. */
        public static ServiceUser lookup(String name) {
            try {
                for (String line : Files.readAllLines(Path.of("/etc/passwd"))) {
                    String[] f = line.split(":");
                    if (f.length > 3 && f[0].equals(name)) {
                        Set<Integer> gids = new java.util.HashSet<>();
                        gids.add(Integer.parseInt(f[3]));
                        for (String g : Files.readAllLines(Path.of("/etc/group"))) {
                            String[] gf = g.split(":");
                            if (gf.length > 3 && java.util.Arrays.asList(gf[3].split(",")).contains(name)) {
                                gids.add(Integer.parseInt(gf[2]));
                            }
                        }
                        return new ServiceUser(name, Integer.parseInt(f[2]), gids);
                    }
                }
            } catch (IOException | RuntimeException e) {
                // No passwd database to read: nothing to judge by.
            }
            return null;
        }

        /** Whether this user may read a file of owner {@code uid}, group {@code gid} and {@code mode}. */
        boolean canRead(int fileUid, int fileGid, Set<PosixFilePermission> mode) {
            return (fileUid == uid && mode.contains(PosixFilePermission.OWNER_READ))
                    || (fileUid != uid && gids.contains(fileGid) && mode.contains(PosixFilePermission.GROUP_READ))
                    || (fileUid != uid && !gids.contains(fileGid) && mode.contains(PosixFilePermission.OTHERS_READ));
        }
    }

    /** Also checks that {@code user} (the daemon's) can read every file; null for no such check. */
    public ConfigFiles readableBy(ServiceUser user) {
        this.serviceUser = user;
        return this;
    }

    /**
     * @param daemon true at the daemon's start: DKIM keys also get the daemon's own group rule
     *               (a group-readable key must belong to the daemon's group). False for
     *               {@code config check}, often run as root, which cannot know the daemon's group.
     */
    public ConfigFiles(ModeRule modeRule, boolean daemon) {
        this.modeRule = modeRule;
        this.daemon = daemon;
    }

    /** Every file {@code config} names, in the order of the file's sections. */
    public static List<NamedFile> named(RelayConfig config) {
        String src = config.file() == null ? "(--dev defaults)" : config.file().toString();
        List<NamedFile> out = new ArrayList<>();
        var in = config.intake();
        if (in.tlsCert() != null) {
            out.add(new NamedFile(src, "intake_tls_cert", in.tlsCert(), Kind.TLS_CERTIFICATE));
            out.add(new NamedFile(src, "intake_tls_key", in.tlsKey(), Kind.TLS_KEY));
        }
        if (in.authCredentials() != null) {
            out.add(new NamedFile(src, "intake_auth_credentials", in.authCredentials(), Kind.INTAKE_CREDENTIALS));
        }
        List<UpstreamConfig> ups = config.forward().upstreams();
        for (int i = 0; i < ups.size(); i++) {
            UpstreamConfig u = ups.get(i);
            if (u.isOutbox()) {
                continue;
            }
            if (u.caFile() != null) {
                out.add(new NamedFile(src, "upstream[" + i + "].ca_file", u.caFile(), Kind.CA_CERTIFICATES));
            }
            if (u.authFile() != null) {
                out.add(new NamedFile(src, "upstream[" + i + "].auth_file", u.authFile(), Kind.UPSTREAM_SECRET));
            }
            for (int j = 0; j < u.logins().size(); j++) {
                out.add(new NamedFile(src, "upstream[" + i + "].login[" + j + "].auth_file", u.logins().get(j).authFile(),
                        Kind.UPSTREAM_SECRET));
            }
        }
        var keys = config.dkim().keys();
        for (int i = 0; i < keys.size(); i++) {
            out.add(new NamedFile(src, "dkim_key[" + i + "].key_file", keys.get(i).keyFile(), Kind.DKIM_KEY));
        }
        return out;
    }

    /**
     * Checks every named file, then the DKIM keys as the signer loads them; the first problem
     * throws. {@code warn} gets what is allowed but worth knowing (a 1024-bit RSA key).
     */
    public void check(RelayConfig config, Consumer<String> warn) throws ConfigException {
        for (NamedFile f : named(config)) {
            check(f);
        }
        // What each upstream's AUTH needs from its auth_file (a password, or a refresh token).
        List<UpstreamConfig> ups = config.forward().upstreams();
        for (int i = 0; i < ups.size(); i++) {
            UpstreamConfig u = ups.get(i);
            if (!u.isOutbox() && u.authFile() != null) {
                checkSecrets(config, u, "upstream[" + i + "].auth_file");
            }
            for (int j = 0; j < u.logins().size(); j++) {
                checkSecrets(config, u.withAuthFile(u.logins().get(j).authFile()),
                        "upstream[" + i + "].login[" + j + "].auth_file");
            }
        }
        // The signer's own load: algorithm, key size, one active key per domain and algorithm.
        DkimKeys.load(config.dkim(), warn, daemon);
    }

    /** What {@code u}'s AUTH needs from its auth_file (named by {@code key}): a password, or a refresh token. */
    private static void checkSecrets(RelayConfig config, UpstreamConfig u, String key) throws ConfigException {
        NamedFile f = new NamedFile(config.file() == null ? "(--dev defaults)" : config.file().toString(),
                key, u.authFile(), Kind.UPSTREAM_SECRET);
        try {
            relaybox.relay.forward.Credentials.readFor(u);
        } catch (IOException e) {
            throw f.error("cannot be used: " + String.valueOf(e.getMessage()).replace(u.authFile() + ": ", ""));
        }
    }

    /** Exists, is a readable regular file, has a safe mode, parses as its kind. */
    public void check(NamedFile f) throws ConfigException {
        Path p = f.file();
        if (!Files.exists(p)) {
            Path dir = p.toAbsolutePath().getParent();
            throw f.error(dir == null || Files.isDirectory(dir) ? "no such file"
                    : "no such file (the directory " + dir + " does not exist either)");
        }
        if (Files.isDirectory(p)) {
            throw f.error("is a directory, not a file");
        }
        if (!Files.isReadable(p)) {
            throw f.error("permission denied: the user running relaybox (" + System.getProperty("user.name")
                    + ") cannot read it; the packaged layout is root:relaybox mode 0640");
        }
        if (serviceUser != null) {
            try {
                int uid = (Integer) Files.getAttribute(p, "unix:uid");
                int gid = (Integer) Files.getAttribute(p, "unix:gid");
                Set<PosixFilePermission> mode = Files.getPosixFilePermissions(p);
                if (!serviceUser.canRead(uid, gid, mode)) {
                    throw f.error("the daemon's user " + serviceUser.name() + " cannot read it (owner uid " + uid
                            + ", gid " + gid + ", mode " + PosixFilePermissions.toString(mode)
                            + "); the packaged layout is root:" + serviceUser.name() + " mode 0640");
                }
            } catch (UnsupportedOperationException | IllegalArgumentException notUnix) {
                // No owners on this file system: nothing to judge.
            } catch (IOException e) {
                throw f.error("cannot read its owner and mode: " + e.getMessage());
            }
        }
        try {
            modeRule.check(f, Files.getPosixFilePermissions(p));
        } catch (UnsupportedOperationException notPosix) {
            // No POSIX modes on this file system: nothing to judge.
        } catch (IOException e) {
            throw f.error("cannot read its mode: " + e.getMessage());
        }
        try {
            parse(f);
        } catch (AccessDeniedException e) {
            throw f.error("permission denied");
        } catch (NoSuchFileException e) {
            throw f.error("no such file");
        } catch (CertificateException e) {
            throw f.error("cannot be used: not a PEM certificate file (-----BEGIN CERTIFICATE----- blocks)");
        } catch (RuntimeException e) {
            throw f.error("cannot be used: its content cannot be parsed as " + f.kind().name().toLowerCase()
                    .replace('_', ' '));
        } catch (IOException e) {
            String m = e.getMessage() == null ? e.getClass().getSimpleName() : e.getMessage();
            // Stage readers name the file themselves; keep the message short.
            throw f.error("cannot be used: " + m.replace(p + ": ", ""));
        }
    }

    private static void parse(NamedFile f) throws IOException, CertificateException {
        Path p = f.file();
        switch (f.kind()) {
            case UPSTREAM_SECRET -> relaybox.relay.forward.Credentials.read(p);
            case INTAKE_CREDENTIALS -> relaybox.relay.intake.Credentials.load(p);
            case CA_CERTIFICATES, TLS_CERTIFICATE -> certificates(p);
            case TLS_KEY -> privateKey(p);
            case DKIM_KEY -> {
                // DkimKeys.load judges it further (algorithm, size); here only: is it a key at all.
                try {
                    DkimKeys.readPem(p);
                } catch (IOException | java.security.GeneralSecurityException | RuntimeException e) {
                    throw new IOException("not a PEM private key relaybox can use (unencrypted PKCS#1 or PKCS#8,"
                            + " RSA or Ed25519); make one with relaybox dkim keygen");
                }
            }
        }
    }

    private static void certificates(Path p) throws IOException, CertificateException {
        try (InputStream in = Files.newInputStream(p)) {
            if (CertificateFactory.getInstance("X.509").generateCertificates(in).isEmpty()) {
                throw new IOException("no PEM certificate in it (expected -----BEGIN CERTIFICATE-----)");
            }
        }
    }

    private static void privateKey(Path p) throws IOException {
        try (Reader r = Files.newBufferedReader(p, StandardCharsets.US_ASCII); PEMParser pem = new PEMParser(r)) {
            Object o = pem.readObject();
            if (!(o instanceof PEMKeyPair || o instanceof PrivateKeyInfo)) {
                throw new IOException(o == null ? "no PEM private key in it"
                        : "not an unencrypted PEM private key (holds " + o.getClass().getSimpleName() + ")");
            }
        }
    }
}
