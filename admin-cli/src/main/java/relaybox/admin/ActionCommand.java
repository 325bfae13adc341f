package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Parameters;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.Op;
import relaybox.relay.control.api.ControlWire;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * The shape every queue action shares: ids or a selector, one line per entry touched, and exit 0
 * only when every named id was acted on (or, for a selector, at least one entry was).
 */
abstract class ActionCommand implements Callable<Integer> {

    private final Cli cli;
    private final Op op;
    private final String past;
    @Spec
    CommandSpec spec;
    @Mixin
    ClientOptions client;
    @Parameters(paramLabel = "ID", arity = "0..*", description = "Queue ids.")
    List<String> ids = new ArrayList<>();
    @Option(names = "--json", description = "One JSON object per entry: id, action, result.")
    boolean json;

    ActionCommand(Cli cli, Op op, String past) {
        this.cli = cli;
        this.op = op;
        this.past = past;
    }

    /** Which selector flag was given ("all", "failed") or null. */
    abstract String selector();

    @Override
    public Integer call() throws CliException {
        String sel = selector();
        if (ids.isEmpty() == (sel == null) || "both".equals(sel)) {
            throw new ParameterException(spec.commandLine(), "give queue ids or " + selectorsText() + ", not both");
        }
        ControlRequest req = sel == null ? ControlRequest.Act.ids(op, ids)
                : new ControlRequest.Act(op, List.of(), sel.equals("all"), sel.equals("failed"), countOnly());
        JsonNode reply;
        try (Control c = client.connect(cli)) {
            reply = c.call(req).json();
        }
        int done = 0;
        for (JsonNode r : reply.path("results")) {
            String result = r.path("result").asText();
            if (result.equals("done") || result.equals("already")) {
                // Idempotent: holding a held entry leaves it as the operator wants it.
                done++;
            }
            if (json) {
                ObjectNode o = ControlWire.object();
                o.put("id", r.path("id").asText()).put("action", op.word()).put("result", result);
                if (r.has("message")) {
                    o.put("message", r.path("message").asText());
                }
                cli.out().println(ControlWire.text(o));
            } else {
                cli.out().println(r.path("id").asText() + " " + switch (result) {
                    case "done" -> past;
                    case "already" -> "already " + (op == Op.RELEASE ? "released (not held)"
                            : op == Op.RETRY ? "due or being sent" : past) + ": nothing to do";
                    case "not_found" -> "not found";
                    case "not_applicable" -> "not " + past + ": not possible in its current state";
                    default -> "error: " + r.path("message").asText();
                });
            }
        }
        int selected = reply.path("results").size();
        if (reply.has("selected")) {
            // A summary reply: counts only, no row per entry.
            selected = reply.path("selected").asInt();
            done = reply.path("done").asInt();
        }
        if (!json) {
            cli.out().println(past + " " + done + " of " + selected + (selected == 1 ? " entry" : " entries"));
        }
        if (sel != null) {
            return done > 0 ? Cli.OK : Cli.NOT_FOUND;
        }
        return done == selected ? Cli.OK : Cli.NOT_FOUND;
    }

    /** True when a selector's reply needs no row per entry: only the count is printed. */
    boolean countOnly() {
        return false;
    }

    String selectorsText() {
        return "--all";
    }
}
