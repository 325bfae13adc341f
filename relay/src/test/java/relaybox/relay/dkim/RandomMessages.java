package relaybox.relay.dkim;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Random;

/**
 * Random but well-formed messages for property tests: one From at example.com, signed and unsigned
 * fields in random order and repetition, folding, runs of SP/HTAB, raw UTF-8 and 8-bit bytes, long
 * lines, empty lines, trailing blank lines, empty bodies. CRLF line ends only (as the intake
 * stores them), and no bare CR or LF.
 */
final class RandomMessages {

    static final List<String> NAMES = List.of("To", "Cc", "Subject", "Date", "Message-ID", "Reply-To", "MIME-Version",
            "Content-Type", "Content-Transfer-Encoding", "In-Reply-To", "References", "List-Unsubscribe",
            "X-Mailer", "Received", "Comments", "X-Ünicode-Free-Name", "subject", "TO");
    static final String[] WORDS = {"hello", "Grüße", "日本", "a", "=?UTF-8?Q?x?=", "<id@example.com>", "\"quoted\"",
            "(comment)", "x@example.net,", ";", "é", "long" + "g".repeat(300)};

    private RandomMessages() {
    }

    static byte[] generate(Random r) {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        int fields = r.nextInt(12);
        int fromAt = r.nextInt(fields + 1);
        for (int i = 0; i <= fields; i++) {
            if (i == fromAt) {
                write(out, "From:" + ws(r) + "Sender " + word(r) + " <app@example.com>" + trailing(r) + "\r\n");
            } else {
                String name = NAMES.get(r.nextInt(NAMES.size()));
                if (name.startsWith("X-Ü")) {
                    name = "X-Plain";
                }
                write(out, name + ":" + value(r) + "\r\n");
            }
        }
        write(out, "\r\n");
        int lines = r.nextInt(4) == 0 ? 0 : r.nextInt(30);
        for (int i = 0; i < lines; i++) {
            int kind = r.nextInt(10);
            if (kind == 0) {
                write(out, "\r\n");
            } else if (kind == 1) {
                write(out, ws(r) + "\r\n");
            } else if (kind == 2) {
                write(out, "z".repeat(1 + r.nextInt(5000)) + ws(r) + "\r\n");
            } else if (kind == 3) {
                byte[] b = new byte[1 + r.nextInt(80)];
                for (int j = 0; j < b.length; j++) {
                    int c;
                    do {
                        c = r.nextInt(256);
                    } while (c == '\r' || c == '\n' || c == 0);
                    b[j] = (byte) c;
                }
                out.writeBytes(b);
                write(out, "\r\n");
            } else {
                StringBuilder line = new StringBuilder(r.nextBoolean() ? ws(r) : "");
                int words = r.nextInt(12);
                for (int w = 0; w < words; w++) {
                    line.append(word(r)).append(ws(r));
                }
                write(out, line + "\r\n");
            }
        }
        int trailing = r.nextInt(3) == 0 ? r.nextInt(5) : 0;
        for (int i = 0; i < trailing; i++) {
            write(out, (r.nextBoolean() ? "" : ws(r)) + "\r\n");
        }
        return out.toByteArray();
    }

    private static String value(Random r) {
        StringBuilder v = new StringBuilder(ws(r));
        int words = 1 + r.nextInt(6);
        for (int i = 0; i < words; i++) {
            v.append(word(r));
            if (r.nextInt(4) == 0) {
                v.append("\r\n").append(r.nextBoolean() ? " " : "\t").append(ws(r)); // folding
            } else {
                v.append(r.nextBoolean() ? " " : ws(r) + " ");
            }
        }
        v.append(word(r)).append(trailing(r));
        return v.toString();
    }

    private static String word(Random r) {
        return WORDS[r.nextInt(WORDS.length)];
    }

    /** Zero or more SP/HTAB. */
    private static String ws(Random r) {
        StringBuilder b = new StringBuilder();
        int n = r.nextInt(4);
        for (int i = 0; i < n; i++) {
            b.append(r.nextBoolean() ? ' ' : '\t');
        }
        return b.toString();
    }

    private static String trailing(Random r) {
        return r.nextInt(3) == 0 ? ws(r) : "";
    }

    private static void write(ByteArrayOutputStream out, String s) {
        out.writeBytes(s.getBytes(StandardCharsets.UTF_8));
    }
}
