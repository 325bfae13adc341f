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

    private Credentials(Map<String, Entry> users) {
        this.users = Map.copyOf(users);
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
            derive(password, new byte[16], ITERATIONS);
            return false;
        }
        return MessageDigest.isEqual(e.hash, derive(password, e.salt, e.iterations));
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
