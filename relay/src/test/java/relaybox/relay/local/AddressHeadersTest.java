package relaybox.relay.local;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** One row per shape of address list: what gets "@host.example" and what is left byte for byte. */
class AddressHeadersTest {

    @ParameterizedTest(name = "{0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            From: root (Cron Daemon)                       | From: root@host.example (Cron Daemon)
            To: root                                       | To: root@host.example
            From: Cron Daemon <root>                       | From: Cron Daemon <root@host.example>
            To: a@x.example, root, "Doe, J" <www-data>     | To: a@x.example, root@host.example, "Doe, J" <www-data@host.example>
            To: a@x.example                                | To: a@x.example
            Cc: "Ops" <ops@corp.example> (team)            | Cc: "Ops" <ops@corp.example> (team)
            To: undisclosed-recipients:;                   | To: undisclosed-recipients:;
            To: team: root, b@y.example;, logcheck         | To: team: root@host.example, b@y.example;, logcheck@host.example
            To: John Smith                                 | To: John Smith
            To: "quoted local"                             | To: "quoted local"@host.example
            To: a@[192.0.2.1]                              | To: a@[192.0.2.1]
            From: =?UTF-8?B?w6lsw6g=?= <root>             | From: =?UTF-8?B?w6lsw6g=?= <root@host.example>
            To: (unclosed comment root                     | To: (unclosed comment root
            To: <@relay.example:root@x.example>            | To: <@relay.example:root@x.example>
            To: first.last                                 | To: first.last@host.example
            To: <>                                         | To: <>
            """)
    void bareNamesAreQualifiedAndNothingElseChanges(String field, String expected) {
        assertEquals(expected + "\r\n", AddressHeaders.qualify(field + "\r\n", "host.example"));
    }

    @ParameterizedTest(name = "folded {0}")
    @CsvSource(delimiter = '|', quoteCharacter = '`', textBlock = """
            `To: a@x.example,\r\n\troot`              | `To: a@x.example,\r\n\troot@host.example`
            `From: root\r\n (Cron\r\n Daemon)`        | `From: root@host.example\r\n (Cron\r\n Daemon)`
            """)
    void foldingIsKept(String field, String expected) {
        assertEquals(expected.replace("\\r\\n", "\r\n").replace("\\t", "\t") + "\r\n",
                AddressHeaders.qualify(field.replace("\\r\\n", "\r\n").replace("\\t", "\t") + "\r\n", "host.example"));
    }
}
