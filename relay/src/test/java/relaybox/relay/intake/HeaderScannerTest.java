package relaybox.relay.intake;

import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HeaderScannerTest {

    private static HeaderScanner scan(String msg, int piece) {
        HeaderScanner h = new HeaderScanner();
        byte[] b = msg.getBytes(StandardCharsets.UTF_8);
        for (int i = 0; i < b.length; i += piece) {
            h.update(b, i, Math.min(piece, b.length - i));
        }
        h.finish();
        return h;
    }

    @Test
    void findsDateMessageIdAndFromDomainInAnyChunking() {
        String msg = "Subject: x\r\nFROM: \"App, Inc\"\r\n <App@Mail.Example.COM>\r\nDate: today\r\n"
                + "Message-Id: <1@x>\r\n\r\nDate: in the body\r\n";
        for (int piece : new int[] {1, 3, 7, 1000}) {
            HeaderScanner h = scan(msg, piece);
            assertTrue(h.hasDate() && h.hasMessageId(), "piece " + piece);
            assertEquals("mail.example.com", h.fromDomain(), "piece " + piece);
        }
    }

    @Test
    void bodyFieldsDoNotCount() {
        HeaderScanner h = scan("Subject: x\r\n\r\nDate: no\r\nMessage-ID: no\r\n", 5);
        assertFalse(h.hasDate() || h.hasMessageId());
        assertEquals("", h.fromDomain());
    }

    @Test
    void aNonHeaderLineEndsTheHeaderSection() {
        HeaderScanner h = scan("Subject: x\r\nthis is not a header\r\nDate: later\r\n", 4);
        assertFalse(h.hasDate());
    }

    @Test
    void headersOnlyMessage() {
        HeaderScanner h = scan("From: a@b.example\r\nDate: x", 2);
        assertTrue(h.hasDate());
        assertEquals("b.example", h.fromDomain());
    }

    @Test
    void aLongFoldedFromFieldIsReadPastTheScannersFirstBuffer() {
        // The field buffer starts small and grows; the address sits 3,000 bytes into the field.
        String from = "From: \"" + "x".repeat(3000) + "\"\r\n <app@long.example>\r\nDate: d\r\n\r\nbody\r\n";
        for (int piece : new int[] {1, 100, 10_000}) {
            HeaderScanner h = scan(from, piece);
            assertEquals("long.example", h.fromDomain(), "piece " + piece);
            assertTrue(h.hasDate(), "piece " + piece);
        }
    }

    @Test
    void aFieldLongerThanTheLimitIsCutNotFatal() {
        String msg = "Subject: " + "y".repeat(HeaderScanner.MAX_FIELD * 2) + "\r\nMessage-ID: <1@x>\r\n\r\n";
        assertTrue(scan(msg, 4096).hasMessageId());
    }

    @Test
    void aFieldNameIsTrimmedAndALineWithAnInvalidNameEndsTheHeaders() {
        // "Date : x" is trimmed to "Date"; "Dat e: x" is not a field, so the Date: after it is body.
        assertTrue(scan("Date : x\r\n\r\n", 3).hasDate());
        assertFalse(scan("Subject: s\r\nDat e: x\r\nDate: y\r\n\r\n", 3).hasDate());
        assertFalse(scan("Subject: s\r\nCaf\u00e9: x\r\nDate: y\r\n\r\n", 3).hasDate());
    }
}
