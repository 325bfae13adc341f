package relaybox.relay.control.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.UnixDomainSocketAddress;
import java.nio.channels.Channels;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Timer;
import java.util.TimerTask;

/**
 * The client end of the control socket, used by the admin CLI: one request, one reply, on a
 * fresh connection (see the daemon's ControlServer for the framing). Distinguishes "nobody is
 * listening" from "not allowed to connect", because they need different advice to the operator.
 */
public final class ControlClient {

    private final Path socket;
    private final Duration timeout;

    /** @param timeout how long to wait for the whole reply before giving up on the daemon */
    public ControlClient(Path socket, Duration timeout) {
        this.socket = socket;
        this.timeout = timeout;
    }

    public Path socket() {
        return socket;
    }

    /**
     * Sends {@code request} and reads the reply. For a {@code raw} reply the returned stream holds
     * the message bytes; the caller must close it.
     *
     * @throws Unreachable when the daemon does not answer (no socket, refused, timed out)
     * @throws PermissionDenied when the socket's mode or group does not admit this user
     */
    public ControlReply call(ControlRequest request) throws Unreachable, PermissionDenied {
        SocketChannel ch;
        try {
            ch = SocketChannel.open(UnixDomainSocketAddress.of(socket));
        } catch (IOException e) {
            String m = String.valueOf(e.getMessage());
            if (m.contains("Permission denied") || e instanceof java.nio.file.AccessDeniedException) {
                throw new PermissionDenied("permission denied on control socket " + socket
                        + ": run as root or as a member of the socket's group (control_group)");
            }
            throw new Unreachable("relaybox daemon is not reachable on " + socket + " (" + m + ")"
                    + ": is it running? (systemctl status relaybox)");
        }
        Timer watchdog = new Timer("control-client-timeout", true);
        watchdog.schedule(new TimerTask() {
            @Override
            public void run() {
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // The reader sees the close.
                }
            }
        }, timeout.toMillis());
        boolean handedOff = false;
        try {
            OutputStream out = Channels.newOutputStream(ch);
            out.write(ControlWire.bytes(request.toJson()));
            out.write('\n');
            out.flush();
            InputStream in = new BufferedInputStream(Channels.newInputStream(ch), 65536);
            byte[] line = readLine(in);
            if (line == null) {
                throw new Unreachable("relaybox daemon on " + socket + " closed the connection without an answer");
            }
            JsonNode head;
            try {
                head = ControlWire.parse(line);
            } catch (IOException e) {
                throw new Unreachable("relaybox daemon on " + socket + " sent a reply that is not JSON ("
                        + e.getMessage() + ")");
            }
            if (!head.isObject()) {
                throw new Unreachable("relaybox daemon on " + socket + " sent something that is not a reply");
            }
            if (head.path("ok").asBoolean(false) && request.op() == Op.RAW) {
                handedOff = true;
                return new ControlReply((ObjectNode) head, new InputStream() {
                    @Override
                    public int read() throws IOException {
                        return in.read();
                    }

                    @Override
                    public int read(byte[] b, int off, int len) throws IOException {
                        return in.read(b, off, len);
                    }

                    @Override
                    public void close() throws IOException {
                        watchdog.cancel();
                        ch.close();
                    }
                });
            }
            if (head.path("ok").asBoolean(false) && head.path("stream").asBoolean(false)) {
                handedOff = true;
                return new ControlReply((ObjectNode) head, null, visitor -> readRows(ch, in, watchdog, visitor));
            }
            return new ControlReply((ObjectNode) head, null);
        } catch (IOException e) {
            throw new Unreachable("relaybox daemon on " + socket + " did not answer within " + timeout.toSeconds()
                    + "s or the connection broke (" + e.getMessage() + ")");
        } finally {
            if (!handedOff) {
                watchdog.cancel();
                try {
                    ch.close();
                } catch (IOException ignored) {
                    // Done with it.
                }
            }
        }
    }

    /**
     * Reads a streamed reply's rows as they arrive; returns its trailer. The timeout runs per row
     * from here on, not for the whole reply: a long listing is not a hung daemon.
     */
    private ObjectNode readRows(SocketChannel ch, InputStream in, Timer watchdog, ControlReply.RowVisitor visitor)
            throws IOException {
        watchdog.cancel();
        java.util.concurrent.atomic.AtomicLong lastRow = new java.util.concurrent.atomic.AtomicLong(System.nanoTime());
        Timer perRow = new Timer("control-client-row-timeout", true);
        perRow.schedule(new TimerTask() {
            @Override
            public void run() {
                if (System.nanoTime() - lastRow.get() > timeout.toNanos()) {
                    try {
                        ch.close();
                    } catch (IOException ignored) {
                        // The reader sees the close.
                    }
                }
            }
        }, 1000, 1000);
        try (ch) {
            byte[] line;
            while ((line = readLine(in)) != null) {
                lastRow.set(System.nanoTime());
                JsonNode row = ControlWire.parse(line);
                if (row.path("end").asBoolean(false) && row.isObject()) {
                    return (ObjectNode) row;
                }
                if (!visitor.row(row)) {
                    return ControlWire.object().put("end", true).put("stopped", true);
                }
            }
            throw new IOException("relaybox daemon on " + socket + " ended the listing without its last line"
                    + " (did it stop, or take longer than " + timeout.toSeconds() + "s for one row?)");
        } finally {
            perRow.cancel();
        }
    }

    private static byte[] readLine(InputStream in) throws IOException {
        ByteArrayOutputStream buf = new ByteArrayOutputStream(1024);
        int c;
        while ((c = in.read()) >= 0) {
            if (c == '\n') {
                return buf.toByteArray();
            }
            buf.write(c);
        }
        return buf.size() == 0 ? null : buf.toByteArray();
    }

    /** Nobody answers on the socket. */
    public static final class Unreachable extends Exception {
        public Unreachable(String message) {
            super(message);
        }
    }

    /** The socket exists but this user may not connect to it. */
    public static final class PermissionDenied extends Exception {
        public PermissionDenied(String message) {
            super(message);
        }
    }
}
