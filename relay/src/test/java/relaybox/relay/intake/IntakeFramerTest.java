package relaybox.relay.intake;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The framer alone: chunk bounds and the data terminator, fed in awkward pieces. */
class IntakeFramerTest {

    @Test
    void aLongLineIsHandedOverInBoundedChunksAndArrivesWhole() {
        IntakeFramer f = new IntakeFramer(false);
        EmbeddedChannel ch = new EmbeddedChannel(f);
        ch.writeInbound(buf("DATA\r\n"));
        IntakeFramer.CommandLine data = ch.readInbound();
        assertTrue(data.pausing());
        data.line().release();
        f.expectData();
        f.resume();
        ch.runPendingTasks();
        String line = "a".repeat(300_000) + ".." + "b".repeat(100);
        byte[] all = (line + "\r\n..x\r\n.\r\nQUIT\r\n").getBytes(StandardCharsets.US_ASCII);
        for (int i = 0; i < all.length; i += 7000) {
            ch.writeInbound(Unpooled.wrappedBuffer(all, i, Math.min(7000, all.length - i)));
        }
        ByteArrayOutputStream got = new ByteArrayOutputStream();
        Object o;
        boolean ended = false;
        String after = null;
        while ((o = ch.readInbound()) != null) {
            if (o instanceof IntakeFramer.DataChunk c) {
                assertTrue(c.bytes().readableBytes() <= IntakeFramer.CHUNK, "chunk of " + c.bytes().readableBytes());
                byte[] b = new byte[c.bytes().readableBytes()];
                c.bytes().readBytes(b);
                got.writeBytes(b);
                c.bytes().release();
                f.consumed(b.length);
            } else if (o instanceof IntakeFramer.DataEnd e) {
                assertTrue(!e.bareNewline());
                ended = true;
            } else if (o instanceof IntakeFramer.CommandLine c) {
                after = c.line().toString(StandardCharsets.US_ASCII);
                c.line().release();
            }
        }
        assertTrue(ended);
        assertArrayEquals((line + "\r\n.x\r\n").getBytes(StandardCharsets.US_ASCII), got.toByteArray());
        assertEquals(null, after, "a command pipelined behind the dot waits for the message's reply");
        f.resume();
        ch.runPendingTasks();
        IntakeFramer.CommandLine quit = ch.readInbound();
        assertEquals("QUIT\r\n", quit.line().toString(StandardCharsets.US_ASCII));
        quit.line().release();
        ch.finishAndReleaseAll();
    }

    private static ByteBuf buf(String s) {
        return Unpooled.copiedBuffer(s, StandardCharsets.US_ASCII);
    }
}
