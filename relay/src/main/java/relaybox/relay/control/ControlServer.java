package relaybox.relay.control;

import relaybox.relay.control.api.ControlError;
import relaybox.relay.control.api.ControlReply;
import com.fasterxml.jackson.databind.JsonNode;
import jdk.net.ExtendedSocketOptions;
import jdk.net.UnixDomainPrincipal;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import relaybox.relay.config.ControlConfig;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.Channels;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.GroupPrincipal;
import java.nio.file.attribute.PosixFileAttributeView;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Owns the control socket: a Unix domain socket (never TCP) whose file mode 0660 and group are
 * the access control, and the framing of requests and replies on it. It does not interpret
 * requests; {@link ControlService} does.
 *
 * <h2>Framing</h2>
 * One request per connection: the client writes one JSON object on one line (at most
 * {@value #MAX_REQUEST} bytes); the server answers with one JSON object on one line, then, for
 * {@code raw} only, the stored message bytes, or for {@code list}, one JSON object per line per
 * entry and a trailer line with {@code "end": true}, and closes. One request per connection keeps
 * both ends trivial and lets {@code raw} stream a 50 MB message, and {@code list} a million
 * entries, without framing them or holding them whole.
 *
 * <h2>Start-up</h2>
 * A socket file left by a crashed daemon is removed; one that still answers means another daemon
 * is running, and start fails. The socket is bound under a temporary name, given its mode and
 * group, and only then renamed into place, so nobody can connect while it still has the umask's
 * permissions.
 *
 * <h2>Failure behaviour</h2>
 * A client that sends nothing is cut off after {@value #REQUEST_TIMEOUT_SECONDS} s; a client
 * that goes away mid-reply costs only its own connection. Every mutating request is logged with
 * the caller's user and group, read from the socket's peer credentials.
 */
public final class ControlServer implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(ControlServer.class);
    static final int MAX_REQUEST = 1 << 20;
    static final int REQUEST_TIMEOUT_SECONDS = 10;
    private static final int WORKERS = 4;

    private final ControlConfig config;
    private final ControlService service;
    private final AtomicInteger threadNo = new AtomicInteger();
    private ServerSocketChannel server;
    private Object socketKey;
    private Thread acceptor;
    private ExecutorService workers;
    private ScheduledExecutorService timer;
    private volatile boolean closed;

    public ControlServer(ControlConfig config, ControlService service) {
        this.config = config;
        this.service = service;
    }

    /** Binds the socket and starts serving. */
    public synchronized void start() throws IOException {
        Path socket = config.socket();
        Path dir = socket.toAbsolutePath().getParent();
        Files.createDirectories(dir);
        removeStale(socket);
        Path tmp = dir.resolve("." + socket.getFileName() + ".new");
        Files.deleteIfExists(tmp);
        server = ServerSocketChannel.open(StandardProtocolFamily.UNIX);
        try {
            server.bind(UnixDomainSocketAddress.of(tmp), 16);
            Files.setPosixFilePermissions(tmp, PosixFilePermissions.fromString("rw-rw----"));
            setGroup(tmp);
            Files.move(tmp, socket, StandardCopyOption.ATOMIC_MOVE);
            socketKey = Files.readAttributes(socket, "unix:ino", LinkOption.NOFOLLOW_LINKS).get("ino");
        } catch (IOException | RuntimeException e) {
            server.close();
            Files.deleteIfExists(tmp);
            throw e;
        }
        workers = Executors.newFixedThreadPool(WORKERS, r -> daemon(r, "control-" + threadNo.incrementAndGet()));
        timer = Executors.newSingleThreadScheduledExecutor(r -> daemon(r, "control-timer"));
        acceptor = daemon(this::acceptLoop, "control-accept");
        acceptor.start();
        LOG.info("control socket listening on {} (mode 0660, group {})", socket,
                config.group().isEmpty() ? "unchanged" : config.group());
    }

    public Path socket() {
        return config.socket();
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        return t;
    }

    private static void removeStale(Path socket) throws IOException {
        if (!Files.exists(socket, LinkOption.NOFOLLOW_LINKS)) {
            return;
        }
        try (SocketChannel probe = SocketChannel.open(UnixDomainSocketAddress.of(socket))) {
            throw new IOException("control socket " + socket + " is in use: another relaybox daemon is running");
        } catch (IOException e) {
            if (e.getMessage() != null && e.getMessage().contains("in use")) {
                throw e;
            }
            // Nobody answers: a crashed daemon left it behind.
            Files.delete(socket);
        }
    }

    private void setGroup(Path p) {
        if (config.group().isEmpty()) {
            return;
        }
        try {
            GroupPrincipal g = p.getFileSystem().getUserPrincipalLookupService()
                    .lookupPrincipalByGroupName(config.group());
            Files.getFileAttributeView(p, PosixFileAttributeView.class, LinkOption.NOFOLLOW_LINKS).setGroup(g);
        } catch (UserPrincipalNotFoundException e) {
            // Fail closed rather than not start: the socket stays 0660 with the daemon's own group.
            LOG.warn("control_group {} does not exist; control socket keeps the daemon's group", config.group());
        } catch (IOException e) {
            LOG.warn("cannot give control socket to group {}: {}; it keeps the daemon's group", config.group(),
                    e.toString());
        }
    }

    private void acceptLoop() {
        while (!closed) {
            SocketChannel ch;
            try {
                ch = server.accept();
            } catch (ClosedChannelException e) {
                return;
            } catch (IOException e) {
                LOG.warn("control socket accept failed: {}", e.toString());
                continue;
            }
            try {
                workers.execute(() -> serve(ch));
            } catch (RejectedExecutionException e) {
                closeQuietly(ch);
            }
        }
    }

    private void serve(SocketChannel ch) {
        String peer = peer(ch);
        ScheduledFuture<?> cutoff = timer.schedule(() -> closeQuietly(ch), REQUEST_TIMEOUT_SECONDS, TimeUnit.SECONDS);
        try (ch) {
            byte[] line = readLine(ch);
            cutoff.cancel(false);
            if (line == null) {
                return;
            }
            ControlReply reply;
            try {
                JsonNode req = ControlJson.MAPPER.readTree(line);
                reply = req != null && req.isObject() ? service.handle(req, peer)
                        : ControlReply.error(ControlError.BAD_REQUEST, "a request is one JSON object");
            } catch (com.fasterxml.jackson.core.JsonProcessingException e) {
                reply = ControlReply.error(ControlError.BAD_REQUEST, "not JSON: " + e.getOriginalMessage());
            }
            write(ch, reply);
        } catch (IOException e) {
            LOG.debug("control client {} went away: {}", peer, e.toString());
        } catch (RuntimeException e) {
            LOG.error("control connection from {} failed", peer, e);
        } finally {
            cutoff.cancel(false);
        }
    }

    private static void write(SocketChannel ch, ControlReply reply) throws IOException {
        OutputStream out = new java.io.BufferedOutputStream(Channels.newOutputStream(ch), 64 << 10);
        byte[] head = ControlJson.MAPPER.writeValueAsBytes(reply.json());
        out.write(head);
        out.write('\n');
        if (reply.raw() != null) {
            try (InputStream raw = reply.raw()) {
                raw.transferTo(out);
            }
        }
        if (reply.rows() != null) {
            // Each row goes out as it is read from the queue: a listing of a million entries costs
            // the daemon one row of memory, and the client sees the first rows at once.
            com.fasterxml.jackson.databind.node.ObjectNode trailer;
            try {
                trailer = reply.rows().forEach(row -> {
                    ControlJson.MAPPER.writeValue(new NoClose(out), row);
                    out.write('\n');
                    return true;
                });
            } catch (RuntimeException e) {
                LOG.error("control stream failed", e);
                trailer = ControlReply.error(ControlError.INTERNAL, "listing failed: " + e).json();
            }
            trailer.put("end", true);
            out.write(ControlJson.MAPPER.writeValueAsBytes(trailer));
            out.write('\n');
        }
        out.flush();
    }

    /** Lets Jackson write into the reply without closing it after each row. */
    private static final class NoClose extends java.io.FilterOutputStream {
        NoClose(OutputStream out) {
            super(out);
        }

        @Override
        public void write(byte[] b, int off, int len) throws IOException {
            out.write(b, off, len);
        }

        @Override
        public void close() {
            // The reply goes on.
        }
    }

    /** Reads up to the first newline; null if the client closed before sending one. */
    private static byte[] readLine(SocketChannel ch) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(256);
        ByteBuffer b = ByteBuffer.allocate(4096);
        while (true) {
            b.clear();
            int n = ch.read(b);
            if (n < 0) {
                return buf.size() == 0 ? null : buf.toByteArray();
            }
            for (int i = 0; i < n; i++) {
                byte c = b.get(i);
                if (c == '\n') {
                    return buf.toByteArray();
                }
                buf.write(c);
            }
            if (buf.size() > MAX_REQUEST) {
                throw new IOException("request longer than " + MAX_REQUEST + " bytes");
            }
        }
    }

    private static String peer(SocketChannel ch) {
        try {
            UnixDomainPrincipal p = ch.getOption(ExtendedSocketOptions.SO_PEERCRED);
            return "user=" + p.user().getName() + " group=" + p.group().getName();
        } catch (IOException | UnsupportedOperationException e) {
            return "user=unknown";
        }
    }

    private static void closeQuietly(SocketChannel ch) {
        try {
            ch.close();
        } catch (IOException ignored) {
            // Closing is best effort; the channel is gone either way.
        }
    }

    /**
     * Stops accepting, lets running requests finish briefly, removes the socket file if it is ours,
     * and closes the service (its bulk-action threads). Idempotent.
     */
    @Override
    public synchronized void close() {
        if (closed || server == null) {
            closed = true;
            service.close();
            return;
        }
        closed = true;
        try {
            server.close();
        } catch (IOException ignored) {
            // Already closed.
        }
        workers.shutdown();
        timer.shutdownNow();
        try {
            workers.awaitTermination(2, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        workers.shutdownNow();
        service.close();
        try {
            Path socket = config.socket();
            // Only remove the file we created: a second daemon may have replaced it.
            if (Files.exists(socket, LinkOption.NOFOLLOW_LINKS)
                    && socketKey.equals(Files.readAttributes(socket, "unix:ino", LinkOption.NOFOLLOW_LINKS).get("ino"))) {
                Files.delete(socket);
            }
        } catch (IOException e) {
            LOG.warn("cannot remove control socket {}: {}", config.socket(), e.toString());
        }
    }
}
