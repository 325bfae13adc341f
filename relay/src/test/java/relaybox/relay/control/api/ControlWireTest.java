package relaybox.relay.control.api;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.junit.jupiter.api.Test;
import relaybox.relay.control.ControlJson;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.IOException;
import java.net.StandardProtocolFamily;
import java.net.UnixDomainSocketAddress;
import java.nio.ByteBuffer;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The CLI's mapper-free JSON reads and writes exactly what the daemon's ObjectMapper does. */
class ControlWireTest {

    private static final String[] DOCUMENTS = {
            "{\"ok\":true,\"selected\":10000,\"done\":9998,\"results\":[]}",
            "{\"ok\":true,\"entries\":[{\"id\":\"4Xk2\",\"state\":\"deferred\",\"age\":3600,\"size\":4096,"
                    + "\"next\":null,\"to\":[\"a@example.com\",\"b@\u00e9xample.org\"],\"reply\":\"451 4.7.1 \\\"slow\\\"\\n\"}]}",
            "{\"big\":123456789012345678901234567890,\"long\":9007199254740993,\"neg\":-2147483649,"
                    + "\"rate\":0.25,\"tiny\":1.0E-7,\"nested\":{\"a\":[1,[2,{\"b\":false}]]}}",
            "[]",
            "\"just a string\"",
    };

    @Test
    void readsEveryDocumentAsTheDaemonsMapperDoes() throws IOException {
        for (String d : DOCUMENTS) {
            byte[] b = d.getBytes(StandardCharsets.UTF_8);
            assertEquals(ControlJson.MAPPER.readTree(b), ControlWire.parse(b), d);
        }
    }

    @Test
    void writesEveryTreeAsTheDaemonsMapperDoes() throws IOException {
        for (String d : DOCUMENTS) {
            JsonNode tree = ControlJson.MAPPER.readTree(d);
            assertEquals(ControlJson.MAPPER.writeValueAsString(tree), ControlWire.text(tree), d);
        }
    }

    @Test
    void aRequestBuiltHereReachesTheDaemonIntact() throws IOException {
        ObjectNode req = ControlWire.object().put("op", "retry").put("all", true).put("summary", true);
        req.putArray("ids").add("4Xk2").add("\u00fc\u00f1\u00ee");
        assertEquals(req, ControlJson.MAPPER.readTree(ControlWire.bytes(req)));
        assertEquals(BigInteger.TEN.pow(30), ControlWire.parse(ControlWire.bytes(
                ControlWire.object().put("n", BigInteger.TEN.pow(30)))).get("n").bigIntegerValue());
    }

    @ParameterizedTest
    @ValueSource(strings = {"", "{", "{\"ok\":tru}", "{\"ok\":true} {}", "{\"a\":1,}", "[1,2", "nul"})
    void aBrokenReplyIsAnIOExceptionNotATree(String broken) {
        IOException e = assertThrows(IOException.class, () -> ControlWire.parse(broken.getBytes(StandardCharsets.UTF_8)));
        assertTrue(e.getMessage() != null && !e.getMessage().isBlank(), broken);
    }

    @Test
    void aReplyThatIsNotJsonIsNamedSoNotTakenForATimeout(@TempDir Path tmp) throws Exception {
        Path socket = tmp.resolve("garbled.sock");
        try (ServerSocketChannel server = ServerSocketChannel.open(StandardProtocolFamily.UNIX)) {
            server.bind(UnixDomainSocketAddress.of(socket));
            Thread peer = new Thread(() -> {
                try (SocketChannel c = server.accept()) {
                    ByteBuffer request = ByteBuffer.allocate(4096);
                    while (request.position() == 0 || request.get(request.position() - 1) != '\n') {
                        if (c.read(request) < 0) {
                            return;
                        }
                    }
                    c.write(ByteBuffer.wrap("HTTP/1.1 400 Bad Request\n".getBytes(StandardCharsets.US_ASCII)));
                } catch (IOException ignored) {
                    // The client's assertion reports what went wrong.
                }
            });
            peer.start();
            ControlClient.Unreachable e = assertThrows(ControlClient.Unreachable.class,
                    () -> new ControlClient(socket, Duration.ofSeconds(10)).call(new ControlRequest.Plain(Op.STATUS)));
            assertTrue(e.getMessage().contains("sent a reply that is not JSON"), e.getMessage());
            peer.join(10_000);
        }
    }
}
