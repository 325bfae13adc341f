package relaybox.relay.forward;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermission;
import java.util.Set;

/**
 * Owns reading an upstream's AUTH credentials from its secrets file ({@code auth_file}). The
 * file holds two lines, {@code username=...} and {@code password=...}; everything after the first
 * "=" is the value. The password is kept exactly as written (it may contain "=", ":" or spaces);
 * the user name is trimmed. Blank lines and lines starting with "#" are ignored. The file must not be
 * readable or writable by others (mode 600 or 640 for the service group): a readable secret is
 * refused at start rather than used. The values are never logged; {@link #toString()} hides them.
 */
public final class Credentials {

    private final String username;
    private final String password;

    Credentials(String username, String password) {
        this.username = username;
        this.password = password;
    }

    public String username() {
        return username;
    }

    String password() {
        return password;
    }

    public static Credentials read(Path file) throws IOException {
        PosixFileAttributeView view = Files.getFileAttributeView(file, PosixFileAttributeView.class);
        if (view != null) {
            Set<PosixFilePermission> p = view.readAttributes().permissions();
            if (p.contains(PosixFilePermission.OTHERS_READ) || p.contains(PosixFilePermission.OTHERS_WRITE)) {
                throw new IOException(file + ": auth_file must not be readable by others (chmod 600)");
            }
        }
        String user = null;
        String pass = null;
        for (String line : Files.readAllLines(file, StandardCharsets.UTF_8)) {
            if (line.isBlank() || line.stripLeading().startsWith("#")) {
                continue;
            }
            int eq = line.indexOf('=');
            String key = eq < 0 ? "" : line.substring(0, eq).strip();
            String value = eq < 0 ? "" : line.substring(eq + 1);
            switch (key) {
                case "username" -> user = value.strip();
                case "password" -> pass = value;
                default -> throw new IOException(file + ": expected username= and password= lines");
            }
        }
        if (user == null || user.isEmpty() || pass == null) {
            throw new IOException(file + ": expected username= and password= lines");
        }
        return new Credentials(user, pass);
    }

    @Override
    public String toString() {
        return "Credentials[username=" + username + ", password=(hidden)]";
    }
}
