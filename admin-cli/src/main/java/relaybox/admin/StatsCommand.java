package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.ControlWire;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code relaybox queue stats}: counts by state, an age histogram in Postfix qshape's buckets
 * (by state, then by busiest recipient domain), the oldest entry, throughput and link state.
 */
@Command(name = "stats", mixinStandardHelpOptions = true,
        description = {"Queue statistics: counts by state, age histogram (qshape buckets, in minutes), oldest "
                + "entry, accepted and delivered in the last minute and hour, upstream link state.",
                "--json prints the daemon's reply as one JSON object."})
final class StatsCommand implements Callable<Integer> {

    private final Cli cli;
    @Mixin
    ClientOptions client;
    @Option(names = "--json", description = "One JSON object.")
    boolean json;

    StatsCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws CliException {
        if (json) {
            cli.out().print(ControlWire.text(fetch(cli, client)) + "\n");
            return Cli.OK;
        }
        // The histogram walks every entry (seconds at millions): the rest is printed first.
        try (Control c = client.connect(cli)) {
            cli.out().print(summary(c.call(new ControlRequest.Stats(false)).json()));
            cli.out().flush();
            cli.out().print(shape(c.call(ControlRequest.Stats.ALL).json()));
        }
        return Cli.OK;
    }

    static JsonNode fetch(Cli cli, ClientOptions client) throws CliException {
        try (Control c = client.connect(cli)) {
            return c.call(ControlRequest.Stats.ALL).json();
        }
    }

    static String render(JsonNode s) {
        return summary(s) + shape(s);
    }

    /** Counts, the oldest entry, throughput and links. */
    private static String summary(JsonNode s) {
        StringBuilder b = new StringBuilder();
        JsonNode c = s.path("counts");
        List<String> parts = new ArrayList<>();
        c.fields().forEachRemaining(e -> parts.add(e.getKey() + " " + e.getValue().asLong()));
        b.append("queue: ").append(s.path("total").asLong()).append(" entries, depth ").append(s.path("depth").asLong())
                .append(" (").append(String.join(", ", parts)).append(")\n");
        JsonNode o = s.path("oldest");
        b.append("oldest: ").append(o.isNull() || o.isMissingNode() ? "-" : o.path("id").asText() + " "
                + o.path("state").asText() + ", " + Format.age(o.path("age").asLong())).append('\n');
        b.append("accepted: ").append(s.path("accepted_last_minute").asLong()).append(" last minute, ")
                .append(s.path("accepted_last_hour").asLong()).append(" last hour\n");
        b.append("delivered: ").append(s.path("delivered_last_minute").asLong()).append(" last minute, ")
                .append(s.path("delivered_last_hour").asLong()).append(" last hour\n");
        links(b, s.path("links"));
        return b.toString();
    }

    /** The qshape histogram: by state, then by the busiest recipient domains. */
    private static String shape(JsonNode s) {
        StringBuilder b = new StringBuilder();
        JsonNode h = s.path("histogram");
        b.append('\n').append(histogram(h, "states", "age (min)")).append('\n');
        if (!h.path("domains").isEmpty()) {
            b.append(histogram(h, "domains", "domain")).append('\n');
        }
        return b.toString();
    }

    static void links(StringBuilder b, JsonNode links) {
        if (links.isEmpty()) {
            b.append("upstream: no link state reported\n");
        }
        for (JsonNode l : links) {
            b.append("upstream ").append(l.path("upstream").asText()).append(": ").append(l.path("state").asText());
            if (!l.path("since").isNull() && !l.path("since").asText().isEmpty()) {
                b.append(" since ").append(Format.time(l.path("since").asText()));
            }
            if (!l.path("detail").asText().isEmpty()) {
                b.append(" (").append(l.path("detail").asText()).append(')');
            }
            if (!l.path("next_attempt").isNull() && !l.path("next_attempt").asText().isEmpty()) {
                b.append("paused".equals(l.path("state").asText()) ? ", resumes " : ", next attempt ")
                        .append(Format.next(l.get("next_attempt"), java.time.Instant.now()));
            }
            b.append('\n');
        }
    }

    private static String histogram(JsonNode h, String rowsKey, String title) {
        List<String> header = new ArrayList<>();
        header.add(title);
        header.add("T");
        h.path("buckets").forEach(x -> header.add(x.asText()));
        boolean[] right = new boolean[header.size()];
        for (int i = 1; i < right.length; i++) {
            right[i] = true;
        }
        Format.Table t = new Format.Table(right, header.toArray(String[]::new));
        for (JsonNode r : h.path(rowsKey)) {
            List<String> row = new ArrayList<>();
            row.add(r.path("name").asText());
            row.add(r.path("total").asText());
            r.path("counts").forEach(x -> row.add(x.asText()));
            t.add(row.toArray(String[]::new));
        }
        return t.render();
    }
}
