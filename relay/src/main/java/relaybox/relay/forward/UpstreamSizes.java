package relaybox.relay.forward;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.relay.config.UpstreamConfig;

import java.io.IOException;
import java.io.OutputStream;
import java.io.Reader;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Owns the message size limit each upstream last advertised in its EHLO ({@code SIZE}, RFC 1870),
 * so that the intake refuses at once what no upstream would take. Sessions report every EHLO
 * here ({@link #seen}); the last value of each upstream is kept in a small file in the queue
 * directory (written to a temporary file, synced, renamed; only when a value changes), so the
 * limit holds from the first message after a restart, before any session was opened.
 *
 * <p>An upstream is known by its name, host and port: a value learnt from another host is not
 * applied to a new one. No SIZE, or {@code SIZE 0} (RFC 1870: no fixed maximum), means no limit,
 * and forgets an earlier one. A file that cannot be read or written costs only the memory across
 * restarts (said once at WARN), never mail. Thread safe.
 */
public final class UpstreamSizes {

    private static final Logger LOG = LoggerFactory.getLogger(UpstreamSizes.class);
    /** The file's name in the queue directory. */
    public static final String FILE = "upstream-sizes";

    /** Kept in memory only (tools and tests). */
    public static final UpstreamSizes NONE = new UpstreamSizes(null);

    private final Path file;
    private final Map<String, Long> limits = new ConcurrentHashMap<>();
    private boolean saveFailedLogged;

    private UpstreamSizes(Path file) {
        this.file = file;
    }

    /** The sizes kept in {@code dir} (the queue directory), as the last run left them. */
    public static UpstreamSizes open(Path dir) {
        UpstreamSizes s = new UpstreamSizes(dir.resolve(FILE));
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(s.file, StandardCharsets.UTF_8)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            return s;
        } catch (IOException | IllegalArgumentException e) {
            LOG.warn("{}: cannot read the upstreams' last SIZE ({}); they are learnt again at the next EHLO", s.file,
                    e.getMessage());
            return s;
        }
        for (String k : p.stringPropertyNames()) {
            String v = p.getProperty(k).strip();
            if (v.matches("\\d{1,18}") && Long.parseLong(v) > 0) {
                s.limits.put(k, Long.parseLong(v));
            }
        }
        return s;
    }

    private static String key(UpstreamConfig u) {
        return u.name() + " " + u.host() + ":" + u.port();
    }

    /**
     * The upstream's EHLO offered {@code sizeParam} as SIZE's parameter (null: SIZE not offered).
     */
    void seen(UpstreamConfig u, String sizeParam) {
        String p = sizeParam == null ? "" : sizeParam.strip();
        long v = p.matches("\\d{1,18}") ? Long.parseLong(p) : 0;
        Long before = v > 0 ? limits.put(key(u), v) : limits.remove(key(u));
        if (before == null ? v > 0 : before != v) {
            LOG.info("upstream {}: {}", u.name(), v > 0 ? "takes messages of up to " + v + " bytes (SIZE)"
                    : "advertises no size limit");
            save();
        }
    }

    /** The last SIZE {@code u} advertised, or 0 when none is known (no limit). */
    public long limit(UpstreamConfig u) {
        return limits.getOrDefault(key(u), 0L);
    }

    private synchronized void save() {
        if (file == null) {
            return;
        }
        Properties p = new Properties();
        new TreeMap<>(limits).forEach((k, v) -> p.setProperty(k, Long.toString(v)));
        Path tmp = file.resolveSibling(FILE + ".tmp");
        try {
            try (OutputStream out = Files.newOutputStream(tmp)) {
                p.store(out, "the SIZE each upstream last advertised; written by relaybox");
            }
            try (FileChannel c = FileChannel.open(tmp, StandardOpenOption.WRITE)) {
                c.force(true);
            }
            Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
            saveFailedLogged = false;
        } catch (IOException e) {
            if (!saveFailedLogged) {
                saveFailedLogged = true;
                LOG.warn("{}: cannot save the upstreams' SIZE ({}); it is kept in memory until restart", file,
                        e.getMessage());
            }
        }
    }
}
