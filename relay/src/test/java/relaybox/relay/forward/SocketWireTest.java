package relaybox.relay.forward;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelInboundHandlerAdapter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.UnknownHostException;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The socket under a session's pipeline: bytes both ways, end of stream, and every deadline. */
class SocketWireTest {

    /** Records what reaches the end of the pipeline, as the session's inbox does. */
    static final class Seen extends ChannelInboundHandlerAdapter {
        final List<Object> events = new ArrayList<>();

        @Override
        public void channelRead(ChannelHandlerContext ctx, Object msg) {
            ByteBuf b = (ByteBuf) msg;
            events.add(b.toString(StandardCharsets.US_ASCII));
            b.release();
        }

        @Override
        public void channelInactive(ChannelHandlerContext ctx) {
            events.add("inactive");
        }

        @Override
        public void exceptionCaught(ChannelHandlerContext ctx, Throwable cause) {
            events.add(cause);
        }
    }

    private final ServerSocket server = new ServerSocket(0, 5, InetAddress.getLoopbackAddress());
    private final List<Socket> accepted = new ArrayList<>();

    SocketWireTest() throws IOException {
    }

    @AfterEach
    void close() throws IOException {
        for (Socket s : accepted) {
            s.close();
        }
        server.close();
    }

    private SocketWire connect(Seen seen, Duration writeTimeout) throws IOException {
        SocketWire w = SocketWire.connect("127.0.0.1", server.getLocalPort(), Duration.ofSeconds(2), writeTimeout, seen);
        accepted.add(server.accept());
        return w;
    }

    @Test
    void bytesGoOutOnFlushAndComeBackThroughThePipeline() throws IOException {
        Seen seen = new Seen();
        SocketWire w = connect(seen, Duration.ofSeconds(2));
        w.channel().write(Unpooled.copiedBuffer("EHLO a\r\n", StandardCharsets.US_ASCII));
        w.channel().writeAndFlush(Unpooled.copiedBuffer("QUIT\r\n", StandardCharsets.US_ASCII));
        InputStream in = accepted.get(0).getInputStream();
        byte[] got = in.readNBytes(14);
        assertArrayEquals("EHLO a\r\nQUIT\r\n".getBytes(StandardCharsets.US_ASCII), got);
        OutputStream out = accepted.get(0).getOutputStream();
        out.write("250 ok\r\n".getBytes(StandardCharsets.US_ASCII));
        out.flush();
        assertTrue(w.readSome(TimeUnit.SECONDS.toNanos(2)));
        assertEquals(List.of("250 ok\r\n"), seen.events);
        accepted.get(0).close();
        assertTrue(w.readSome(TimeUnit.SECONDS.toNanos(2)));
        assertEquals("inactive", seen.events.get(seen.events.size() - 1), "end of stream closes the pipeline");
        assertFalse(w.channel().isActive());
    }

    @Test
    void aReadWithNothingToReadTimesOut() throws IOException {
        Seen seen = new Seen();
        SocketWire w = connect(seen, Duration.ofSeconds(2));
        long t0 = System.nanoTime();
        assertFalse(w.readSome(TimeUnit.MILLISECONDS.toNanos(200)));
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertTrue(ms >= 190, "returned after " + ms + " ms");
        assertTrue(seen.events.isEmpty());
        assertTrue(w.channel().isActive(), "a timeout leaves the decision to the session");
        w.channel().close();
    }

    @Test
    @Timeout(30)
    void aWriteTheUpstreamNeverReadsFailsAfterTheWriteTimeout() throws IOException {
        Seen seen = new Seen();
        SocketWire w = connect(seen, Duration.ofMillis(300));
        // Far more than the socket buffers hold; the peer never reads.
        byte[] chunk = new byte[64 * 1024];
        long t0 = System.nanoTime();
        for (int i = 0; i < 1024 && w.channel().isActive(); i++) {
            w.channel().write(Unpooled.wrappedBuffer(chunk));
        }
        w.channel().flush();
        long ms = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - t0);
        assertFalse(w.channel().isActive(), "the session's pipeline is closed");
        Throwable t = (Throwable) seen.events.stream().filter(Throwable.class::isInstance).findFirst().orElseThrow();
        assertInstanceOf(java.net.SocketTimeoutException.class, t);
        assertTrue(t.getMessage().contains("timeout after 300ms sending to the upstream"), t.getMessage());
        assertTrue(ms >= 290 && ms < 10_000, "gave up after " + ms + " ms");
    }

    @Test
    void aRefusedConnectionAndAnUnknownHostAreIoErrors() throws IOException {
        int port;
        try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
            port = s.getLocalPort();
        }
        assertThrows(java.net.ConnectException.class,
                () -> SocketWire.connect("127.0.0.1", port, Duration.ofSeconds(2), Duration.ofSeconds(2)));
        assertThrows(UnknownHostException.class,
                () -> SocketWire.connect("no-such-host.invalid", 25, Duration.ofSeconds(2), Duration.ofSeconds(2)));
    }
}
