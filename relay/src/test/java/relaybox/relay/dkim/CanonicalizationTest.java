package relaybox.relay.dkim;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** Header canonicalisation (RFC 6376 §3.4.1, §3.4.2) as a table. "|" stands for CRLF. */
class CanonicalizationTest {

    @ParameterizedTest
    @CsvSource(delimiter = ';', value = {
            "relaxed; 'Subject:  Hello   World  |'; 'subject:Hello World|'",
            "relaxed; 'SUBJECT : a|\tb|'; 'subject:a b|'",
            "relaxed; 'X-A:|  folded|'; 'x-a:folded|'",
            "relaxed; 'From: Jürgen <j@x>|'; 'from:Jürgen <j@x>|'",
            "relaxed; 'To:x|'; 'to:x|'",
            "simple; 'SUBJECT : a|\tb|'; 'SUBJECT : a|\tb|'",
    })
    void headerFieldIsCanonicalised(String canon, String in, String want) {
        assertEquals(want.replace("|", "\r\n"), Canonicalization.byName(canon).header(in.replace("|", "\r\n")));
    }
}
