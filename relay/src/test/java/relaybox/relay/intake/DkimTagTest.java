package relaybox.relay.intake;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The mail log's dkim= names every signature the intake added, in order (issue 20). */
class DkimTagTest {

    @Test
    void namesEachSignature() {
        assertEquals("", AcceptMessage.dkimTag(""));
        assertEquals("example.org/s2026",
                AcceptMessage.dkimTag("DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s2026; h=from; b=y\r\n"));
        assertEquals("example.org/s2026,example.org/e2026", AcceptMessage.dkimTag(
                "DKIM-Signature: v=1; a=rsa-sha256; d=example.org; s=s2026; b=y\r\n"
                        + "DKIM-Signature: v=1; a=ed25519-sha256; d=example.org; s=e2026; b=z\r\n"));
        assertEquals("a.example/one",
                AcceptMessage.dkimTag("DKIM-Signature: v=1; a=rsa-sha256;\r\n\td=a.example; s=one;\r\n\tb=y\r\n"));
    }
}
