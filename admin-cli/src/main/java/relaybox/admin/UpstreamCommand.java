package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import relaybox.relay.control.api.ControlRequest;
import relaybox.relay.control.api.Op;
import relaybox.relay.control.api.ControlWire;

import java.time.Duration;
import java.util.concurrent.Callable;

/**
 * {@code relaybox upstream test}: the daemon probes each upstream and we print each step;
 * {@code relaybox upstream pause NAME [--for 2h]} and {@code resume NAME}: the daemon stops or
 * starts opening sessions to one upstream; {@code login NAME}: {@link UpstreamLoginCommand}.
 */
@Command(name = "upstream", mixinStandardHelpOptions = true, description = "Upstream (smart host) checks and pauses.",
        subcommands = {UpstreamCommand.Test.class, UpstreamCommand.Pause.class, UpstreamCommand.Resume.class,
                UpstreamLoginCommand.class,                 CommandLine.HelpCommand.class})
final class UpstreamCommand implements Callable<Integer> {

    @Spec
    CommandSpec spec;

    @Override
    public Integer call() {
        spec.commandLine().usage(spec.commandLine().getErr());
        return Cli.USAGE;
    }

    @Command(name = "test", mixinStandardHelpOptions = true,
            description = {"Connect to each configured upstream, STARTTLS, verify the certificate, AUTH, and report "
                    + "each step, without sending mail. The daemon runs the test with its own configuration and "
                    + "credentials.", "Exit 1 if any step failed."})
    static final class Test implements Callable<Integer> {
        private final Cli cli;
        @Mixin
        ClientOptions client;
        @Option(names = "--json", description = "One JSON object per upstream.")
        boolean json;

        Test(Cli cli) {
            this.cli = cli;
        }

        @Override
        public Integer call() throws CliException {
            JsonNode r;
            // Connect and TLS timeouts of several upstreams add up: wait longer than for other requests.
            try (Control c = client.connect(cli, Duration.ofSeconds(Math.max(client.timeoutSeconds, 180)))) {
                r = c.call(new ControlRequest.Plain(Op.UPSTREAM_TEST)).json();
            }
            boolean allOk = true;
            for (JsonNode u : r.path("upstreams")) {
                if (json) {
                    cli.out().println(ControlWire.text(u));
                }
                Format.Table t = new Format.Table(new boolean[]{false, false, true}, "STEP", "RESULT", "TIME", "DETAIL");
                for (JsonNode s : u.path("steps")) {
                    boolean ok = s.path("ok").asBoolean();
                    allOk &= ok;
                    t.add(s.path("name").asText(), ok ? "ok" : "FAILED", s.path("millis").asLong() + "ms",
                            s.path("detail").asText());
                }
                if (!json) {
                    cli.out().println("upstream " + u.path("upstream").asText() + ":");
                    t.render().lines().forEach(l -> cli.out().println("  " + l));
                    for (JsonNode s : u.path("steps")) {
                        if (!s.path("ok").asBoolean()) {
                            // The table clips nothing, but the reason deserves its own line.
                            cli.out().println("  stopped at " + s.path("name").asText() + ": " + s.path("detail").asText());
                        }
                    }
                }
            }
            if (r.path("upstreams").isEmpty()) {
                cli.out().println("no upstream configured");
                return Cli.NOT_FOUND;
            }
            return allOk ? Cli.OK : Cli.NOT_FOUND;
        }
    }

    @Command(name = "pause", mixinStandardHelpOptions = true,
            description = {"Stop sending to one upstream: no new sessions; its mail stays queued (not bounced, no "
                    + "attempt spent) or goes to the next upstream of its route. Held across restarts.",
                    "Without --for the pause lasts until relaybox upstream resume."})
    static final class Pause implements Callable<Integer> {
        private final Cli cli;
        @Mixin
        ClientOptions client;
        @CommandLine.Parameters(index = "0", paramLabel = "NAME", description = "The upstream's name.")
        String name;
        @Option(names = "--for", paramLabel = "DURATION", description = "Resume by itself after this long (30m, 2h, 1d).")
        String length;

        Pause(Cli cli) {
            this.cli = cli;
        }

        @Override
        public Integer call() throws CliException {
            return change(cli, client, new ControlRequest.UpstreamPause(name, false, length), name);
        }
    }

    @Command(name = "resume", mixinStandardHelpOptions = true,
            description = "End an upstream's pause (by an operator, a used-up quota or sender throttling): its "
                    + "waiting mail is made due at once.")
    static final class Resume implements Callable<Integer> {
        private final Cli cli;
        @Mixin
        ClientOptions client;
        @CommandLine.Parameters(index = "0", paramLabel = "NAME", description = "The upstream's name.")
        String name;

        Resume(Cli cli) {
            this.cli = cli;
        }

        @Override
        public Integer call() throws CliException {
            return change(cli, client, new ControlRequest.UpstreamPause(name, true, ""), name);
        }
    }

    /** Sends a pause or resume and prints the upstream's link after it. */
    private static int change(Cli cli, ClientOptions client, ControlRequest request, String name) throws CliException {
        JsonNode r;
        try (Control c = client.connect(cli)) {
            r = c.call(request).json();
        }
        StringBuilder b = new StringBuilder();
        for (JsonNode l : r.path("links")) {
            if (l.path("upstream").asText().equals(name)) {
                StatsCommand.links(b, ControlWire.object().arrayNode().add(l));
            }
        }
        cli.out().print(b);
        return Cli.OK;
    }
}
