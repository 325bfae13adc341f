package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.Op;
import relaybox.relay.control.api.ControlWire;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code relaybox status}: is the daemon up, what it listens on, queue depth, the queue's
 * cross-check after an unclean stop, and link state. The exit code is meant for monitoring: 0 up
 * and healthy (a cross-check that runs is healthy: mail flows), 1 up but degraded (queue store
 * failing, the cross-check failed, or an upstream link down or paused), 3 not reachable.
 */
@Command(name = "status", mixinStandardHelpOptions = true,
        description = {"Daemon status: up, listeners, queue depth, upstream link state.",
                "For monitoring: exit 0 healthy, 1 degraded (queue store failing, the queue's cross-check after an"
                        + " unclean stop failed, an upstream link down or paused), 3 daemon unreachable."})
final class StatusCommand implements Callable<Integer> {

    private final Cli cli;
    @Mixin
    ClientOptions client;
    @Option(names = "--json", description = "One JSON object.")
    boolean json;

    StatusCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws CliException {
        JsonNode s;
        try (Control c = client.connect(cli)) {
            s = c.call(new ControlRequest.Plain(Op.STATUS)).json();
        }
        List<String> problems = new ArrayList<>();
        if (!s.path("queue_healthy").asBoolean(true)) {
            problems.add("the queue store's last commit failed");
        }
        JsonNode check = s.path("cross_check");
        if ("failed".equals(check.path("phase").asText())) {
            problems.add("the queue's cross-check failed (" + check.path("failure").asText() + ")");
        }
        for (JsonNode l : s.path("links")) {
            String state = l.path("state").asText();
            if ("down".equals(state)) {
                problems.add("upstream " + l.path("upstream").asText() + " is down");
            } else if ("paused".equals(state)) {
                problems.add("upstream " + l.path("upstream").asText() + " is paused (" + l.path("detail").asText()
                        + "; relaybox upstream resume " + l.path("upstream").asText() + " ends it)");
            } else if ("backoff".equals(state)) {
                problems.add("upstream " + l.path("upstream").asText() + " refuses our configuration (backing off;"
                        + " fix it, then run relaybox upstream test)");
            }
        }
        if (json) {
            cli.out().println(ControlWire.text(s));
        } else {
            StringBuilder b = new StringBuilder();
            b.append("relaybox daemon is up (pid ").append(s.path("pid").asLong()).append(", up ")
                    .append(Format.age(s.path("uptime").asLong())).append(", since ")
                    .append(Format.time(s.path("started_at").asText())).append(")\n");
            for (JsonNode l : s.path("listeners")) {
                b.append("listening: ").append(l.path("name").asText()).append(' ')
                        .append(l.path("address").asText()).append('\n');
            }
            List<String> parts = new ArrayList<>();
            s.path("counts").fields().forEachRemaining(e -> parts.add(e.getKey() + " " + e.getValue().asLong()));
            b.append("queue: ").append(s.path("queue_healthy").asBoolean(true) ? "healthy" : "FAILING")
                    .append(", depth ").append(s.path("depth").asLong()).append(" (").append(String.join(", ", parts))
                    .append(")\n");
            crossCheck(b, check);
            StatsCommand.links(b, s.path("links"));
            b.append(problems.isEmpty() ? "status: ok\n" : "status: DEGRADED: " + String.join("; ", problems) + "\n");
            cli.out().print(b);
        }
        return problems.isEmpty() ? Cli.OK : Cli.NOT_FOUND;
    }

    /**
     * One line for the cross-check after an unclean stop; none when there was none (an older
     * daemon sends none). The phase words are the wire's (CrossCheckProgress.Phase in the daemon):
     * a client command loads no queue class.
     */
    private static void crossCheck(StringBuilder b, JsonNode c) {
        String phase = c.path("phase").asText("none");
        if (phase.equals("none")) {
            return;
        }
        String read = c.path("segments_scanned").asLong() + " of " + c.path("segments").asLong() + " spool segments read";
        String found = c.path("entries_audited").asLong() + " entries audited, " + c.path("entries_rescued").asLong()
                + " queued again from the spool, " + c.path("repairs").asLong() + " index repairs"
                + (c.path("ranges_quarantined").asLong() == 0 ? ""
                        : ", " + c.path("ranges_quarantined").asLong() + " damaged spool ranges quarantined");
        String took = Format.age(c.path("seconds").asLong());
        b.append("queue cross-check after an unclean stop: ");
        if (phase.equals("done")) {
            b.append("done in ").append(took).append(" (").append(Format.time(c.path("finished_at").asText()))
                    .append("): ").append(read).append(", ").append(found);
        } else if (phase.equals("failed")) {
            b.append("FAILED after ").append(took).append(": ").append(c.path("failure").asText()).append("; ")
                    .append(read).append(", ").append(found);
        } else {
            b.append(phase).append(" phase, running for ").append(took).append(" (since ")
                    .append(Format.time(c.path("started_at").asText())).append("): ").append(read).append(", ")
                    .append(found).append("; spool segments are kept until it ends");
        }
        b.append('\n');
    }
}
