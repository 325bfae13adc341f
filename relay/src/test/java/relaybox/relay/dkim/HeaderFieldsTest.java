package relaybox.relay.dkim;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import java.nio.charset.StandardCharsets;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class HeaderFieldsTest {

    @ParameterizedTest
    @CsvSource(delimiter = ';', nullValues = "NONE", value = {
            "App <app@Example.COM>; example.com",
            "app@example.com; example.com",
            "app@example.com (App); example.com",
            "\"Doe, John (x@evil.example)\" <john@example.com>; example.com",
            "(comment <c@evil.example>) john@example.com; example.com",
            "a@example.com, b@other.example; example.com",
            "Team: a@example.com, b@other.example; example.com",
            "<info@bücher.example>; xn--bcher-kva.example",
            "<app@example.com.>; example.com",
            "undisclosed; NONE",
            "<app@[192.0.2.1]>; NONE",
    })
    void fromDomainIsFound(String value, String want) {
        assertEquals(Optional.ofNullable(want), HeaderFields.addressDomain(value));
    }

    @Test
    void foldedFieldsStayWholeAndNamesAreKept() {
        HeaderFields f = HeaderFields.parse("A: 1\r\n\tmore\r\nB : 2\r\nA: 3\r\n");
        assertEquals(3, f.fields().size());
        assertEquals("A: 1\r\n\tmore\r\n", f.fields().get(0).raw());
        assertEquals("B", f.fields().get(1).name());
        assertEquals(2, f.count("a"));
    }

    @Test
    void twoFromFieldsGiveNoDomain() {
        assertEquals(Optional.empty(), HeaderFields.parse("From: a@x.example\r\nFrom: b@y.example\r\n").fromDomain());
    }

    @Test
    void utf8FromIsReadFromRawBytes() {
        byte[] raw = "From: Jö <jö@bücher.example>\r\n".getBytes(StandardCharsets.UTF_8);
        assertEquals(Optional.of("xn--bcher-kva.example"), HeaderFields.parse(raw, 0, raw.length).fromDomain());
    }

    @Test
    void fieldNamesArePrintableAsciiWithoutColonOrSpace() {
        assertTrue(HeaderFields.isFieldName("X-Mailer"));
        assertTrue(HeaderFields.isFieldName("!#$%&'*+-.^_`|~09;<=>?@[]{}"));
        assertFalse(HeaderFields.isFieldName(""));
        assertFalse(HeaderFields.isFieldName("X Mailer"));
        assertFalse(HeaderFields.isFieldName("X\tMailer"));
        assertFalse(HeaderFields.isFieldName("X\u007fMailer"));
        assertFalse(HeaderFields.isFieldName("Caf\u00e9"));
        assertFalse(HeaderFields.isFieldName("a:b"));
    }
}
