package relaybox.relay.forward;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.time.Instant;
import java.time.format.DateTimeParseException;
import java.util.Map;
import java.util.TreeMap;

/**
 * Owns the file that keeps upstream pauses across restarts ({@code queue_dir/upstream-pauses}):
 * a small text file, one pause a line ({@code NAME TAB CAUSE TAB SINCE TAB UNTIL|- TAB REASON}),
 * rewritten whole on every change through a temporary file that is fsynced and renamed over it,
 * then the directory fsynced, so a crash leaves the old set or the new one, never a torn file. It
 * is not in the queue's store: only the queue opens MapDB, and a pause is not mail. A line that
 * cannot be read is logged and skipped (the upstream then starts unpaused). Not thread safe: its
 * owner ({@link LinkMonitor}) serialises calls.
 */
final class PauseFile {

    private static final Logger LOG = LoggerFactory.getLogger(PauseFile.class);
    static final String NAME = "upstream-pauses";

    private final Path file;

    /** @param file where pauses are kept; null keeps them in memory only (tests, offline tools) */
    PauseFile(Path file) {
        this.file = file;
    }

    /** The pauses in the file, by upstream name; empty when there is no file. */
    Map<String, Pause> load() {
        Map<String, Pause> out = new TreeMap<>();
        if (file == null) {
            return out;
        }
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (NoSuchFileException none) {
            return out;
        } catch (IOException e) {
            LOG.warn("cannot read the upstream pauses in {}: {}; starting with none", file, e.toString());
            return out;
        }
        for (String line : text.split("\n")) {
            if (line.isBlank() || line.startsWith("#")) {
                continue;
            }
            String[] f = line.split("\t", 5);
            try {
                Pause.Cause cause = Pause.Cause.of(f[1]).orElseThrow(() -> new IllegalArgumentException(f[1]));
                out.put(f[0], new Pause(cause, Instant.parse(f[2]), f[3].equals("-") ? null : Instant.parse(f[3]),
                        unescape(f[4])));
            } catch (ArrayIndexOutOfBoundsException | IllegalArgumentException | DateTimeParseException e) {
                LOG.warn("{}: skipping a line that is not a pause: {}", file, line);
            }
        }
        return out;
    }

    /** Replaces the file's content with {@code pauses}, atomically and durably. */
    void save(Map<String, Pause> pauses) throws IOException {
        if (file == null) {
            return;
        }
        StringBuilder b = new StringBuilder("# upstream pauses, written by relaybox; relaybox upstream resume NAME ends one\n");
        new TreeMap<>(pauses).forEach((name, p) -> b.append(name).append('\t').append(p.cause().word()).append('\t')
                .append(p.since()).append('\t').append(p.until() == null ? "-" : p.until().toString()).append('\t')
                .append(escape(p.reason())).append('\n'));
        Path dir = file.toAbsolutePath().getParent();
        Path tmp = dir.resolve("." + file.getFileName() + ".tmp");
        try (FileChannel fc = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
                StandardOpenOption.WRITE)) {
            fc.write(ByteBuffer.wrap(b.toString().getBytes(StandardCharsets.UTF_8)));
            fc.force(true);
        }
        Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
            d.force(true);
        } catch (IOException notSupported) {
            // Some file systems cannot sync a directory; the rename itself is atomic.
        }
    }

    private static String escape(String s) {
        return s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r");
    }

    private static String unescape(String s) {
        StringBuilder b = new StringBuilder();
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            if (c == '\\' && i + 1 < s.length()) {
                char n = s.charAt(++i);
                b.append(switch (n) {
                    case 't' -> '\t';
                    case 'n' -> '\n';
                    case 'r' -> '\r';
                    default -> n;
                });
            } else {
                b.append(c);
            }
        }
        return b.toString();
    }
}
