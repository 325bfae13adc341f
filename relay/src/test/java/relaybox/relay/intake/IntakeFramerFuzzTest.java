package relaybox.relay.intake;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;
import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.Locale;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Fuzzes the intake's input parsing: the framer (command lines, DATA with dot-stuffing and its
 * terminator, bare CR/LF detection, long lines) fed arbitrary bytes in arbitrary pieces, and the
 * MAIL/RCPT path parser. Invariants beyond "no exception": a message the framer passes as clean
 * contains no bare CR or LF (SMTP smuggling), in reject and in normalize mode, and an address that parses and passes isMailbox
 * never holds CR, LF or NUL.
 *
 * <p>Regression mode under {@code mvn test}; fuzzing with {@code JAZZER_FUZZ=1} (see RELIABILITY.md).
 */
class IntakeFramerFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void framerAndPaths(FuzzedDataProvider in) {
        String path = in.consumeString(300);
        for (String keyword : new String[] {"FROM", "TO"}) {
            Optional<SmtpPath> p = SmtpPath.parse(path, keyword);
            // parse() is syntax only; MAIL and RCPT then require isMailbox. What passes both is
            // what gets queued, and must not carry a line break or NUL.
            p.filter(sp -> SmtpPath.isMailbox(sp.address()))
                    .ifPresent(sp -> assertFalse(sp.address().matches("(?s).*[\r\n\0].*"), sp.address()));
        }

        IntakeFramer framer = new IntakeFramer(in.consumeBoolean());
        // Both bare-newline modes (intake_bare_newline), chosen without consuming input so that the
        // stored corpus keeps its meaning: normalised output must be as free of bare CR/LF as clean.
        boolean normalize = (path.length() & 1) == 0;
        EmbeddedChannel ch = new EmbeddedChannel(framer);
        ByteArrayOutputStream message = new ByteArrayOutputStream();
        try {
            while (in.remainingBytes() > 0) {
                byte[] piece = in.consumeBytes(1 + in.consumeInt(0, 2000));
                ch.writeInbound(Unpooled.wrappedBuffer(piece));
                Object o;
                while ((o = ch.readInbound()) != null) {
                    try {
                        if (o instanceof IntakeFramer.CommandLine c) {
                            String line = c.line().toString(StandardCharsets.ISO_8859_1).trim()
                                    .toUpperCase(Locale.ROOT);
                            if (c.pausing()) {
                                if (line.equals("DATA")) {
                                    framer.expectData(normalize);
                                }
                                framer.resume();
                                ch.runPendingTasks();
                            }
                        } else if (o instanceof IntakeFramer.DataChunk d) {
                            ByteBuf b = d.bytes();
                            byte[] bytes = new byte[b.readableBytes()];
                            b.getBytes(b.readerIndex(), bytes);
                            message.writeBytes(bytes);
                            framer.consumed(bytes.length);
                        } else if (o instanceof IntakeFramer.DataEnd end) {
                            if (!end.bareNewline()) {
                                assertNoBareNewline(message.toByteArray());
                            }
                            message.reset();
                        }
                    } finally {
                        // The events are records holding buffers; the session releases those.
                        if (o instanceof IntakeFramer.CommandLine c) {
                            c.line().release();
                        } else if (o instanceof IntakeFramer.DataChunk d) {
                            d.bytes().release();
                        }
                    }
                }
                ch.runPendingTasks();
            }
        } finally {
            ch.finishAndReleaseAll();
        }
    }

    private static void assertNoBareNewline(byte[] m) {
        for (int i = 0; i < m.length; i++) {
            if (m[i] == '\r') {
                assertTrue(i + 1 < m.length && m[i + 1] == '\n', "bare CR passed at " + i);
            } else if (m[i] == '\n') {
                assertTrue(i > 0 && m[i - 1] == '\r', "bare LF passed at " + i);
            }
        }
    }
}
