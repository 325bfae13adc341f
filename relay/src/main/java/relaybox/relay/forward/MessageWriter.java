package relaybox.relay.forward;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import io.netty.handler.codec.smtp.DefaultLastSmtpContent;
import io.netty.handler.codec.smtp.DefaultSmtpContent;
import io.netty.handler.codec.smtp.SmtpRequests;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.relay.config.UpstreamConfig;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

/**
 * Owns what one session writes for a mail transaction: the MAIL line with its parameters (SIZE,
 * BODY, SMTPUTF8, the envelope_sender rewrite), RCPT and DATA, and the message: the upstream's
 * extra headers, then the queued bytes streamed in 64 KiB chunks, dot-stuffed, then the final
 * ".". It writes without flushing; when to flush and what the replies mean is
 * {@link MailTransaction}'s. Not thread safe: one per session.
 */
final class MessageWriter {

    private static final int CHUNK = 64 * 1024;

    private final EmbeddedChannel ch;
    private final Map<String, String> extensions;
    private final UpstreamConfig upstream;
    private final byte[] extraHeaders;
    /**
     * The read buffer for message bodies, one per session: allocated per message it was 640 MB of
     * garbage in a drain of 10,000 small messages.
     */
    private final byte[] chunk = new byte[CHUNK];

    MessageWriter(EmbeddedChannel ch, Map<String, String> extensions, UpstreamConfig upstream) {
        this.ch = ch;
        this.extensions = extensions;
        this.upstream = upstream;
        StringBuilder b = new StringBuilder();
        upstream.headers().forEach(h -> b.append(h).append("\r\n"));
        this.extraHeaders = b.toString().getBytes(StandardCharsets.UTF_8);
    }

    /** MAIL, every RCPT and DATA, written but not flushed (PIPELINING). */
    void commands(QueueEntry entry, List<String> rcpts) {
        ch.write(mail(entry));
        rcpts.forEach(r -> ch.write(rcpt(r)));
        ch.write(SmtpRequests.data());
    }

    /**
     * MAIL and RCPT go out as UTF-8 lines written here, not as codec requests: the codec encodes
     * command parameters as ASCII, which would mangle an SMTPUTF8 address.
     */
    private static ByteBuf utf8Line(String line) {
        return Unpooled.copiedBuffer(line + "\r\n", StandardCharsets.UTF_8);
    }

    static ByteBuf rcpt(String recipient) {
        return utf8Line("RCPT TO:<" + recipient + ">");
    }

    ByteBuf mail(QueueEntry entry) {
        Envelope env = entry.envelope();
        List<String> params = new ArrayList<>();
        if (extensions.containsKey("SIZE")) {
            params.add("SIZE=" + (entry.messageSize() + extraHeaders.length));
        }
        if (env.eightBit() && extensions.containsKey("8BITMIME")) {
            params.add("BODY=8BITMIME");
        }
        if (env.smtputf8()) {
            params.add("SMTPUTF8");
        }
        String rewrite = upstream.envelopeSender();
        // The null sender stays null: a bounce must never itself be bounced.
        String sender = env.isNullSender() ? "" : rewrite.isEmpty() ? env.sender() : rewrite;
        StringBuilder line = new StringBuilder("MAIL FROM:<").append(sender).append('>');
        params.forEach(p -> line.append(' ').append(p));
        return utf8Line(line.toString());
    }

    /**
     * Writes the extra headers, the queued bytes (dot-stuffed) and the final ".", not flushed.
     *
     * @throws IOException when the queued message cannot be read; part of it may be written
     */
    void body(UpstreamSession.MessageSource source) throws IOException {
        DotStuffer stuffer = new DotStuffer();
        if (extraHeaders.length > 0) {
            ch.write(new DefaultSmtpContent(stuffer.stuff(ch.alloc(), extraHeaders, 0, extraHeaders.length)));
        }
        try (InputStream in = source.open()) {
            int n;
            while ((n = in.read(chunk)) > 0) {
                // The wire sends once enough is pending, so a large body is streamed, not held.
                ch.write(new DefaultSmtpContent(stuffer.stuff(ch.alloc(), chunk, 0, n)));
            }
        }
        ch.write(new DefaultLastSmtpContent(Unpooled.wrappedBuffer(stuffer.tail())));
    }
}
