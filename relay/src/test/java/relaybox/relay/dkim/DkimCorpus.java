package relaybox.relay.dkim;

import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Random;

/**
 * The messages every signature is checked on, by name. Text uses \n and is turned into CRLF;
 * every message's From is at example.com unless the name says otherwise.
 */
final class DkimCorpus {

    private DkimCorpus() {
    }

    static Map<String, byte[]> messages() {
        Map<String, byte[]> m = new LinkedHashMap<>();
        m.put("ascii", DkimFixtures.crlf("""
                From: App <app@example.com>
                To: user@example.net
                Subject: Plain ASCII
                Date: Sun, 22 Nov 2026 12:00:00 +0000
                Message-ID: <ascii@example.com>

                Hello.
                .A line starting with a dot.
                Bye.
                """));
        m.put("utf8-body", DkimFixtures.crlf("""
                From: App <app@example.com>
                To: user@example.net
                Subject: =?UTF-8?Q?Gr=C3=BC=C3=9Fe?=
                MIME-Version: 1.0
                Content-Type: text/plain; charset=utf-8
                Content-Transfer-Encoding: 8bit

                Grüße aus Köln — ¡olé! 日本語のテキスト
                Ünïcödé at the end  \t
                """));
        m.put("smtputf8-headers", DkimFixtures.crlf("""
                From: Jürgen Groß <jürgen@example.com>
                To: Zoë <zoë@example.net>
                Subject: Ärger mit Umlauten — and raw UTF-8 headers
                MIME-Version: 1.0
                Content-Type: text/plain; charset=utf-8

                Body.
                """));
        m.put("idn-from-domain", DkimFixtures.crlf("""
                From: Shop <info@bücher.example>
                To: user@example.net
                Subject: IDN domain, key under its A-label

                Body.
                """));
        String attachment = Base64.getMimeEncoder(76, "\r\n".getBytes()).encodeToString(random(3000, 1));
        m.put("multipart-attachment", DkimFixtures.crlf("""
                From: App <app@example.com>
                To: user@example.net
                Subject: Report attached
                MIME-Version: 1.0
                Content-Type: multipart/mixed; boundary="b1"

                This is a multi-part message in MIME format.

                --b1
                Content-Type: text/plain; charset=us-ascii

                See attachment.

                --b1
                Content-Type: application/octet-stream; name="r.bin"
                Content-Transfer-Encoding: base64
                Content-Disposition: attachment; filename="r.bin"

                """ + attachment + """

                --b1--
                """));
        m.put("folded-headers", DkimFixtures.crlf("From:   App\t  <app@example.com>   \n"
                + "To: first@example.net,\n\tsecond@example.net,\n    third@example.net\n"
                + "Subject: a subject that is folded\n over   several\n\t\tlines   \n"
                + "X-Spaces:  value with   runs\t\tof  whitespace  \n"
                + "\n"
                + "Body  with   runs\tof whitespace   \n"
                + "   leading space line\n"));
        m.put("long-lines", DkimFixtures.crlf("From: App <app@example.com>\nTo: user@example.net\nSubject: long\n\n"
                + "x".repeat(12000) + "\n" + "y ".repeat(3000) + "\n"));
        m.put("empty-body", DkimFixtures.crlf("From: App <app@example.com>\nTo: user@example.net\nSubject: empty\n\n"));
        m.put("trailing-blank-lines", DkimFixtures.crlf("From: App <app@example.com>\nTo: user@example.net\n"
                + "Subject: trailing\n\nText\n\n  \n\t\n\n\n\n"));
        m.put("blank-lines-only-body", DkimFixtures.crlf("From: App <app@example.com>\nSubject: blanks\n\n\n\n\n"));
        m.put("repeated-headers", DkimFixtures.crlf("""
                Received: from a by b; Sun, 22 Nov 2026 11:59:00 +0000
                Received: from c by d; Sun, 22 Nov 2026 11:58:00 +0000
                From: App <app@example.com>
                To: one@example.net
                To: two@example.net
                Cc: c1@example.net
                Subject: first subject
                Reply-To: r1@example.com
                Reply-To: r2@example.com
                Comments: one
                Comments: two

                Body.
                """));
        // Not here: a body without a final CRLF (the intake never stores one: DATA ends in CRLF.CRLF,
        // and Mail::DKIM reads such a body differently from RFC 6376 §3.4.3), and "Name :" with
        // space before the colon (obsolete syntax dkimpy refuses to parse). DkimSignerTest covers both.
        return m;
    }

    static byte[] random(int n, long seed) {
        byte[] b = new byte[n];
        new Random(seed).nextBytes(b);
        return b;
    }
}
