package relaybox.relay.intake;

import javax.crypto.SecretKeyFactory;
import javax.crypto.spec.PBEKeySpec;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.SecureRandom;
import java.util.Base64;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Owns the intake's AUTH credentials: a file ({@code intake_auth_credentials}) of lines
 * {@code user:pbkdf2-sha256:ITERATIONS:SALT:HASH} (salt and hash in base64), comments with #.
 * Only password hashes are stored, never the passwords; {@link #hash} makes a line's hash part
 * ({@code relaybox hash-password} prints one). Immutable once loaded.
 */
public final class Credentials {

    static final String SCHEME = "pbkdf2-sha256";
    static final int ITERATIONS = 210_000;
    private static final int KEY_BITS = 256;

    private record Entry(int iterations, byte[] salt, byte[] hash) { }

    private final Map<String, Entry> users;

    /**
     * A good login's PBKDF2 (210,000 rounds, about 0.1 s of CPU) runs on the session's event loop
     * and holds up every session on it, so a user's last good password is remembered for
     * {@link #VERIFIED_FOR_NANOS}, as a salted SHA-256 under a key that lives only in this
     * process: an application that logs in for every message pays PBKDF2 once every few minutes.
     * A wrong password always takes the slow path.
     */
    private record Verified(byte[] token, long at) { }

    static final long VERIFIED_FOR_NANOS = java.util.concurrent.TimeUnit.MINUTES.toNanos(10);
    private final Map<String, Verified> verified = new java.util.concurrent.ConcurrentHashMap<>();
    private final byte[] secret = new byte[32];
    private final java.util.concurrent.atomic.AtomicLong derivations = new java.util.concurrent.atomic.AtomicLong();

    private Credentials(Map<String, Entry> users) {
        this.users = Map.copyOf(users);
        new SecureRandom().nextBytes(secret);
    }

    /** Reads the file; an error names the file and the line. */
    public static Credentials load(Path file) throws IOException {
        List<String> lines = Files.readAllLines(file);
        Map<String, Entry> users = new HashMap<>();
        for (int i = 0; i < lines.size(); i++) {
            String line = lines.get(i).strip();
            if (line.isEmpty() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split(":");
            try {
                if (f.length != 5 || !f[1].equals(SCHEME) || f[0].isEmpty()) {
                    throw new IllegalArgumentException("expected user:" + SCHEME + ":ITERATIONS:SALT:HASH");
                }
                users.put(f[0], new Entry(Integer.parseInt(f[2]), Base64.getDecoder().decode(f[3]),
                        Base64.getDecoder().decode(f[4])));
            } catch (IllegalArgumentException e) {
                throw new IOException(file + ":" + (i + 1) + ": " + e.getMessage());
            }
        }
        return new Credentials(users);
    }

    /** True when {@code user} exists and {@code password} matches its hash. */
    public boolean verify(String user, String password) {
        Entry e = users.get(user);
        if (e == null) {
            // Same work as a real check, so timing does not tell which user names exist.
            derivations.incrementAndGet();
            derive(password, new byte[16], ITERATIONS);
            return false;
        }
        long now = System.nanoTime();
        Verified v = verified.get(user);
        byte[] token = token(user, password);
        if (v != null && now - v.at() < VERIFIED_FOR_NANOS && MessageDigest.isEqual(v.token(), token)) {
            return true;
        }
        derivations.incrementAndGet();
        boolean ok = MessageDigest.isEqual(e.hash, derive(password, e.salt, e.iterations));
        if (ok) {
            verified.put(user, new Verified(token, now));
        }
        return ok;
    }

    /** PBKDF2 runs so far (tests: a repeated good login must not run it again). */
    long derivations() {
        return derivations.get();
    }

    private byte[] token(String user, String password) {
        try {
            MessageDigest d = MessageDigest.getInstance("SHA-256");
            d.update(secret);
            d.update(user.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            d.update((byte) 0);
            d.update(password.getBytes(java.nio.charset.StandardCharsets.UTF_8));
            return d.digest();
        } catch (GeneralSecurityException ex) {
            throw new IllegalStateException("SHA-256 is part of every JDK", ex);
        }
    }

    /** The {@code pbkdf2-sha256:ITERATIONS:SALT:HASH} part of a credentials line for a new password. */
    public static String hash(String password) {
        byte[] salt = new byte[16];
        new SecureRandom().nextBytes(salt);
        Base64.Encoder b64 = Base64.getEncoder();
        return SCHEME + ":" + ITERATIONS + ":" + b64.encodeToString(salt) + ":"
                + b64.encodeToString(derive(password, salt, ITERATIONS));
    }

    public Optional<String> anyUser() {
        return users.keySet().stream().findFirst();
    }

    private static byte[] derive(String password, byte[] salt, int iterations) {
        try {
            PBEKeySpec spec = new PBEKeySpec(password.toCharArray(), salt, iterations, KEY_BITS);
            return SecretKeyFactory.getInstance("PBKDF2WithHmacSHA256").generateSecret(spec).getEncoded();
        } catch (GeneralSecurityException e) {
            throw new IllegalStateException("PBKDF2WithHmacSHA256 is part of every JDK", e);
        }
    }
}
