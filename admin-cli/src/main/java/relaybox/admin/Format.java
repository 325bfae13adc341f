package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;

import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;

/** How durations, sizes and lists look in the human tables. JSON output never goes through here. */
final class Format {

    private Format() {
    }

    /** 42s, 5m, 3h12m, 2d4h. */
    static String age(long seconds) {
        if (seconds < 60) {
            return seconds + "s";
        }
        if (seconds < 3600) {
            return seconds / 60 + "m";
        }
        if (seconds < 86400) {
            long m = seconds / 60 % 60;
            return seconds / 3600 + "h" + (m == 0 ? "" : m + "m");
        }
        long h = seconds / 3600 % 24;
        return seconds / 86400 + "d" + (h == 0 ? "" : h + "h");
    }

    /** "+15m", "now" or "-" as in the mail log's next= key. */
    static String next(JsonNode next, Instant now) {
        if (next == null || next.isNull() || next.asText().isEmpty()) {
            return "-";
        }
        long s = Duration.between(now, Instant.parse(next.asText())).getSeconds();
        return s <= 0 ? "now" : "+" + age(s);
    }

    /** An ISO instant to the second, for people: 2026-11-22T16:21:07Z. */
    static String time(String iso) {
        try {
            return Instant.parse(iso).truncatedTo(java.time.temporal.ChronoUnit.SECONDS).toString();
        } catch (RuntimeException e) {
            return iso;
        }
    }

    static String size(long bytes) {
        if (bytes < 10_000) {
            return Long.toString(bytes);
        }
        if (bytes < 10_000_000) {
            return bytes / 1024 + "K";
        }
        return bytes / (1024 * 1024) + "M";
    }

    static String clip(String s, int max) {
        return s.length() <= max ? s : s.substring(0, max - 1) + "…";
    }

    static String addresses(JsonNode list, int shown) {
        List<String> a = new ArrayList<>();
        list.forEach(n -> a.add(n.asText()));
        if (a.size() <= shown) {
            return String.join(",", a);
        }
        return String.join(",", a.subList(0, shown)) + " +" + (a.size() - shown);
    }

    /** Aligned columns, left-aligned except those named numeric; the last column is not padded. */
    static final class Table {
        private final List<String[]> rows = new ArrayList<>();
        private final boolean[] right;

        Table(boolean[] right, String... header) {
            this.right = right;
            rows.add(header);
        }

        void add(String... cells) {
            rows.add(cells);
        }

        int size() {
            return rows.size() - 1;
        }

        String render() {
            int[] w = widths(rows);
            StringBuilder b = new StringBuilder();
            for (String[] r : rows) {
                b.append(line(r, w, right));
            }
            return b.toString();
        }

        static int[] widths(List<String[]> rows) {
            int cols = rows.get(0).length;
            int[] w = new int[cols];
            for (String[] r : rows) {
                for (int i = 0; i < cols; i++) {
                    w[i] = Math.max(w[i], r[i].length());
                }
            }
            return w;
        }

        /** One row padded to {@code w}; a cell longer than its width pushes the rest of its line only. */
        static String line(String[] r, int[] w, boolean[] right) {
            StringBuilder line = new StringBuilder();
            int cols = w.length;
            for (int i = 0; i < cols; i++) {
                String c = r[i];
                boolean last = i == cols - 1;
                int pad = Math.max(0, w[i] - c.length());
                if (right != null && i < right.length && right[i]) {
                    line.append(" ".repeat(pad)).append(c);
                } else {
                    line.append(c);
                    if (!last) {
                        line.append(" ".repeat(pad));
                    }
                }
                if (!last) {
                    line.append("  ");
                }
            }
            return line.toString().stripTrailing() + "\n";
        }
    }

    /**
     * A table printed as its rows arrive, for listings of any length: the column widths come from
     * the first {@link #FIRST} rows (or what arrived in the first half second), which are held
     * until then; every later row is printed at once with those widths.
     */
    static final class StreamingTable {
        static final int FIRST = 200;
        private final java.io.PrintStream out;
        private final boolean[] right;
        private final List<String[]> first = new ArrayList<>();
        private final long started = System.nanoTime();
        private int[] widths;
        private long rows;

        StreamingTable(java.io.PrintStream out, boolean[] right, String... header) {
            this.out = out;
            this.right = right;
            first.add(header);
        }

        void add(String... cells) {
            rows++;
            if (widths != null) {
                out.print(Table.line(cells, widths, right));
                return;
            }
            first.add(cells);
            if (first.size() > FIRST || System.nanoTime() - started > 500_000_000L) {
                flush();
            }
        }

        /** Prints what is held; call once the rows end. */
        void flush() {
            if (widths == null) {
                widths = Table.widths(first);
                first.forEach(r -> out.print(Table.line(r, widths, right)));
                first.clear();
            }
            out.flush();
        }

        long size() {
            return rows;
        }
    }
}
