package relaybox.relay.reliability;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;

/**
 * Lines from one of {@link UpstreamSink}'s sockets through its own buffer. BufferedInputStream.read()
 * takes a lock per byte: for a 4 KiB message that was most of the sink's CPU, taken from the two
 * cores the relay under test runs on (a real ESP's CPU is not on the relay's machine).
 */
final class SinkLineReader {
    private final InputStream in;
    private final byte[] buf = new byte[65536];
    private int pos;
    private int end;

    SinkLineReader(InputStream in) {
        this.in = in;
    }

    /** Bytes buffered here or readable without blocking. */
    int available() throws IOException {
        return end - pos > 0 ? end - pos : in.available();
    }

    /** One line without its CRLF (or LF), or null at the end of the stream. */
    String readLine() throws IOException {
        StringBuilder partial = null;
        while (true) {
            for (int i = pos; i < end; i++) {
                if (buf[i] == '\n') {
                    int stop = i > pos && buf[i - 1] == '\r' ? i - 1 : i;
                    String piece = new String(buf, pos, stop - pos, StandardCharsets.ISO_8859_1);
                    pos = i + 1;
                    if (partial == null) {
                        return piece;
                    }
                    partial.append(piece);
                    int len = partial.length();
                    if (stop == i && len > 0 && partial.charAt(len - 1) == '\r') {
                        partial.setLength(len - 1);
                    }
                    return partial.toString();
                }
            }
            if (end > pos) {
                if (partial == null) {
                    partial = new StringBuilder();
                }
                partial.append(new String(buf, pos, end - pos, StandardCharsets.ISO_8859_1));
            }
            pos = 0;
            end = in.read(buf, 0, buf.length);
            if (end < 0) {
                end = 0;
                return partial == null || partial.length() == 0 ? null : partial.toString();
            }
        }
    }
}
