package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.ControlReply;
import relaybox.relay.control.api.ControlWire;

import java.io.IOException;

import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code relaybox queue list} (also {@code mailq}): one line per entry. The JSON Lines form has
 * the fields of {@link relaybox.relay.control.ControlJson.EntryView}, named as in the mail log.
 */
@Command(name = "list", mixinStandardHelpOptions = true,
        description = {"List queue entries: id, state, age, size, attempts, next attempt, sender, pending "
                + "recipients, last reply.",
                "--json prints one JSON object per line with the fields id, state, queued_at, age (seconds), "
                        + "size (bytes), attempts, next (ISO time or null), from, to (pending), reply, recipients."})
final class ListCommand implements Callable<Integer> {

    private final Cli cli;
    @Mixin
    ClientOptions client;
    @Option(names = "--state", paramLabel = "S", description = "Only entries in these states (comma list: queued, "
            + "sending, deferred, held, failed, quarantined).")
    String state;
    @Option(names = "--older-than", paramLabel = "D", description = "Only entries queued longer ago than D (30m, 2h, 5d).")
    String olderThan;
    @Option(names = "--sender", paramLabel = "X", description = "Only entries whose sender contains X.")
    String sender;
    @Option(names = "--recipient", paramLabel = "X", description = "Only entries with a recipient containing X.")
    String recipient;
    @Option(names = "--limit", paramLabel = "N", description = "At most N entries; the last line then says how to "
            + "get the next page.")
    long limit;
    @Option(names = "--after", paramLabel = "ID", description = "Start after this queue id (the last one of the "
            + "previous page); entries are listed in id order, oldest first.")
    String after;
    @Option(names = "--json", description = "JSON Lines instead of a table.")
    boolean json;
    @Option(names = "--offline", description = "Read the queue store directly; only while the daemon is stopped.")
    boolean offline;
    @Option(names = "--queue-dir", paramLabel = "DIR", description = "Queue directory for --offline "
            + "(default: queue_dir from the config file).")
    Path queueDir;

    ListCommand(Cli cli) {
        this.cli = cli;
    }

    /** --state's comma list as words; null or blank is every state. */
    static List<String> states(String commaList) {
        List<String> out = new ArrayList<>();
        if (commaList != null && !commaList.isBlank()) {
            for (String w : commaList.split(",")) {
                out.add(w.trim());
            }
        }
        return out;
    }

    @Override
    public Integer call() throws CliException {
        if (limit < 0) {
            throw new CliException(Cli.USAGE, "--limit: expected a positive number");
        }
        ControlRequest req = new ControlRequest.ListEntries(new ControlRequest.Filter(states(state), olderThan, sender,
                recipient), after, limit);
        // Rows are printed as they arrive: a listing of a million entries holds one row (or the
        // table's first rows) in memory, in the daemon and here.
        Instant now = Instant.now();
        Format.StreamingTable t = new Format.StreamingTable(cli.out(), new boolean[]{false, false, true, true, true},
                "ID", "STATE", "AGE", "SIZE", "ATT", "NEXT", "FROM", "TO", "REPLY");
        ObjectNode end;
        try (Control c = open(cli, client, offline, queueDir)) {
            ControlReply r = c.call(req);
            if (r.rows() == null) {
                throw new CliException(Cli.UNREACHABLE, "the daemon answered list without entries; is it an older version?");
            }
            try {
                end = r.rows().forEach(e -> {
                    if (json) {
                        cli.out().println(ControlWire.text(e));
                    } else {
                        t.add(e.path("id").asText(), e.path("state").asText(), Format.age(e.path("age").asLong()),
                                Format.size(e.path("size").asLong()), e.path("attempts").asText(),
                                Format.next(e.get("next"), now), "<" + e.path("from").asText() + ">",
                                Format.addresses(e.path("to"), 2), Format.clip(e.path("reply").asText(), 60));
                    }
                    return !cli.out().checkError();
                });
            } catch (IOException e) {
                throw new CliException(Cli.UNREACHABLE, e.getMessage());
            }
        }
        if (end.has("error")) {
            throw Control.failure(new ControlReply(end, null));
        }
        boolean more = end.path("more").asBoolean(false);
        if (json) {
            return Cli.OK;
        }
        long n = end.path("count").asLong(t.size());
        if (n == 0) {
            cli.out().println("no entries" + (state != null || olderThan != null || sender != null
                    || recipient != null || after != null ? " match" : ": the queue is empty"));
            return Cli.OK;
        }
        t.flush();
        cli.out().println("-- " + n + (n == 1 ? " entry, " : " entries, ") + Format.size(end.path("bytes").asLong())
                + " bytes" + (more ? "; more: --after " + end.path("last").asText() : ""));
        return Cli.OK;
    }

    static Control open(Cli cli, ClientOptions client, boolean offline, Path queueDir) throws CliException {
        return offline ? OfflineControl.open(OfflineControl.queueDir(cli, client, queueDir)) : client.connect(cli);
    }
}
