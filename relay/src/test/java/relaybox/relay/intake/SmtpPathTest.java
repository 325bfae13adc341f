package relaybox.relay.intake;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SmtpPathTest {

    @Test
    void parsesPathAndParameters() {
        SmtpPath p = SmtpPath.parse("FROM:<a@b.example> SIZE=10 BODY=8BITMIME", "FROM").orElseThrow();
        assertEquals("a@b.example", p.address());
        assertEquals(List.of("SIZE=10", "BODY=8BITMIME"), p.parameters());
        assertEquals(List.of("SIZE=10", "BODY=8BITMIME"),
                SmtpPath.parse("FROM:<a@b.example>   SIZE=10  BODY=8BITMIME  ", "FROM").orElseThrow().parameters());
        assertEquals(List.of(), SmtpPath.parse("FROM:<a@b.example>   ", "FROM").orElseThrow().parameters());
        assertEquals("", SmtpPath.parse("from: <>", "FROM").orElseThrow().address());
        assertEquals("\"a>b\"@c.example", SmtpPath.parse("TO:<\"a>b\"@c.example>", "TO").orElseThrow().address());
        assertEquals("u@d.example", SmtpPath.parse("TO:<@relay.example:u@d.example>", "TO").orElseThrow().address());
        assertEquals("j\u00f6rg@b\u00fccher.example",
                SmtpPath.parse("FROM:<j\u00f6rg@b\u00fccher.example> SMTPUTF8", "FROM").orElseThrow().address());
    }

    @ParameterizedTest
    @ValueSource(strings = {"FROM:a@b.example", "FROM <a@b.example>", "FROM:<a@b.example", "TO:<a@b>", "FROM:<a@b>x"})
    void badSyntax(String arg) {
        assertTrue(SmtpPath.parse(arg, "FROM").isEmpty(), arg);
    }

    @ParameterizedTest
    @ValueSource(strings = {"a@b.example", "postmaster", "\"john doe\"@b.example", "x@[192.0.2.1]", "\u7528\u6237@\u4f8b\u5b50.example"})
    void mailboxes(String a) {
        assertTrue(SmtpPath.isMailbox(a), a);
    }

    @ParameterizedTest
    @ValueSource(strings = {"a", "@b.example", "a@", "a b@c.example", "a@b..example", "a@.b", "a@b@c", "a\u0001@b.example"})
    void notMailboxes(String a) {
        assertFalse(SmtpPath.isMailbox(a), a);
    }
}
