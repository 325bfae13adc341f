package relaybox.admin;

import java.util.ArrayList;
import java.util.List;

/**
 * Pulls addr-specs out of RFC 5322 address lists ("A <a@x>, \"B, C\" <b@y>, c@z, team: d@w;"),
 * as sendmail -t needs for To/Cc/Bcc and for recipient arguments. It honours quoted strings,
 * comments in parentheses, angle brackets and groups; it does not validate addresses (the
 * daemon's intake does that and answers RCPT accordingly).
 */
final class Addresses {

    private Addresses() {
    }

    static List<String> parse(String list) {
        List<String> out = new ArrayList<>();
        StringBuilder cur = new StringBuilder();
        StringBuilder angle = null;
        boolean quoted = false;
        int comment = 0;
        for (int i = 0; i < list.length(); i++) {
            char c = list.charAt(i);
            if (quoted) {
                if (c == '\\' && i + 1 < list.length()) {
                    i++;
                } else if (c == '"') {
                    quoted = false;
                }
                continue;
            }
            if (comment > 0) {
                if (c == '\\') {
                    i++;
                } else if (c == '(') {
                    comment++;
                } else if (c == ')') {
                    comment--;
                }
                continue;
            }
            switch (c) {
                case '"' -> {
                    quoted = true;
                    cur.append(' ');
                }
                case '(' -> comment++;
                case '<' -> angle = new StringBuilder();
                case '>' -> {
                    if (angle != null) {
                        cur.setLength(0);
                        cur.append('<').append(angle);
                        angle = null;
                    }
                }
                case ':' -> {
                    if (angle == null) {
                        cur.setLength(0); // group display name
                    } else {
                        angle.append(c);
                    }
                }
                case ',', ';' -> {
                    if (angle != null) {
                        angle.append(c);
                    } else {
                        add(out, cur);
                    }
                }
                default -> (angle != null ? angle : cur).append(c);
            }
        }
        add(out, cur);
        return out;
    }

    private static void add(List<String> out, StringBuilder cur) {
        String s = cur.toString().trim();
        cur.setLength(0);
        if (s.startsWith("<")) {
            s = s.substring(1).trim();
            // Drop a source route (<@a,@b:user@host>), which RFC 5321 says to ignore.
            int colon = s.lastIndexOf(':');
            if (s.startsWith("@") && colon > 0) {
                s = s.substring(colon + 1);
            }
        } else if (s.contains(" ")) {
            // A bare display name without an address (a quoted name left alone) is not a recipient.
            String[] words = s.split("\\s+");
            s = words[words.length - 1].contains("@") ? words[words.length - 1] : "";
        }
        if (!s.isEmpty()) {
            out.add(s);
        }
    }
}
