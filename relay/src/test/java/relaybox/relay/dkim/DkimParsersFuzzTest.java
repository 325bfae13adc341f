package relaybox.relay.dkim;

import com.code_intelligence.jazzer.api.FuzzedDataProvider;
import com.code_intelligence.jazzer.junit.FuzzTest;

import java.io.IOException;
import java.io.StringReader;
import java.security.GeneralSecurityException;

/**
 * Fuzzes the DKIM parsers that read outside input: PEM private keys (operator files), the header
 * section of a message (client bytes), address domains in From:, DNS key records (tags) and the
 * canonicalization names. Only the declared exceptions may come out.
 */
class DkimParsersFuzzTest {

    @FuzzTest(maxDuration = "30s")
    void dkimParsers(FuzzedDataProvider in) {
        int which = in.consumeInt(0, 4);
        String text = in.consumeRemainingAsString();
        switch (which) {
            case 0 -> {
                try {
                    DkimKeys.readPem(new StringReader(text));
                } catch (IOException | GeneralSecurityException e) {
                    // refused with a reason
                }
            }
            case 1 -> {
                byte[] b = text.getBytes(java.nio.charset.StandardCharsets.ISO_8859_1);
                HeaderFields.parse(b, 0, b.length);
                HeaderFields.parse(text);
            }
            case 2 -> {
                HeaderFields.addressDomain(text);
                HeaderFields.domainOf(text);
            }
            case 3 -> DkimRecord.tags(text);
            default -> {
                try {
                    Canonicalization.byName(text);
                } catch (IllegalArgumentException e) {
                    // an unknown name is a config error
                }
            }
        }
    }
}
