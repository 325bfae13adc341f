package relaybox.admin;

import com.fasterxml.jackson.databind.JsonNode;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.time.Duration;
import java.time.Instant;
import java.util.concurrent.Callable;

/**
 * {@code relaybox queue watch}: the stats view redrawn every interval, with a progress bar of the
 * drain measured against the deepest backlog seen since the watch started. Runs until Ctrl-C.
 * If the daemon goes away it says so and keeps trying, because that is what one watches for.
 */
@Command(name = "watch", mixinStandardHelpOptions = true,
        description = "Live view of the queue statistics with a progress bar of the drain; Ctrl-C to stop.")
final class WatchCommand implements Callable<Integer> {

    static final String CLEAR = "\033[H\033[2J";
    private static final int BAR = 40;

    private final Cli cli;
    @Mixin
    ClientOptions client;
    @Option(names = "--interval", paramLabel = "SECONDS", defaultValue = "1",
            description = "Seconds between redraws (default 1; decimals allowed).")
    double interval;
    @Option(names = "--iterations", hidden = true, defaultValue = "0", description = "Stop after N redraws (tests).")
    int iterations;

    WatchCommand(Cli cli) {
        this.cli = cli;
    }

    @Override
    public Integer call() throws CliException, InterruptedException {
        JsonNode first = StatsCommand.fetch(cli, client);
        long maxDepth = first.path("depth").asLong();
        JsonNode s = first;
        for (int i = 1; ; i++) {
            StringBuilder b = new StringBuilder(CLEAR);
            b.append("relaybox queue watch  ").append(Instant.now().toString(), 0, 19).append("Z  (Ctrl-C to stop)\n\n");
            if (s == null) {
                b.append("daemon unreachable; retrying...\n");
            } else {
                long depth = s.path("depth").asLong();
                maxDepth = Math.max(maxDepth, depth);
                String down = downSince(s.path("links"), depth);
                b.append(down != null ? down : bar(maxDepth, depth, s.path("delivered_last_minute").asLong(),
                        s.path("counts").path("held").asLong())).append("\n\n");
                b.append(StatsCommand.render(s));
            }
            cli.out().print(b);
            cli.out().flush();
            if (iterations > 0 && i >= iterations) {
                return Cli.OK;
            }
            Thread.sleep(Duration.ofMillis((long) (interval * 1000)).toMillis());
            try {
                s = StatsCommand.fetch(cli, client);
            } catch (CliException e) {
                if (e.code() != Cli.UNREACHABLE) {
                    throw e;
                }
                s = null;
            }
        }
    }

    /**
     * "upstream down since 03:12:45, 1000 waiting" when every link is down (or backing off): no
     * mail moves, so a rate and an ETA would be fiction. Null while any link is up.
     */
    static String downSince(JsonNode links, long depth) {
        if (links.isEmpty()) {
            return null;
        }
        java.time.Instant since = null;
        for (JsonNode l : links) {
            String state = l.path("state").asText();
            if (!state.equals("down") && !state.equals("backoff")) {
                return null;
            }
            try {
                java.time.Instant t = java.time.Instant.parse(l.path("since").asText());
                since = since == null || t.isAfter(since) ? t : since;
            } catch (java.time.format.DateTimeParseException e) {
                // A daemon that reports no time: the line still says what matters.
            }
        }
        if (since == null) {
            return "upstream down, " + depth + " waiting";
        }
        String hms = java.time.format.DateTimeFormatter.ofPattern("HH:mm:ss")
                .withZone(java.time.ZoneId.systemDefault()).format(since);
        return "upstream down since " + hms + ", " + depth + " waiting";
    }

    /** "drain [#####.....] 50% 500 of 1000 left, 42/min, about 12m to go; 2 held (not drained)". */
    static String bar(long maxDepth, long depth, long perMinute, long held) {
        double done = maxDepth == 0 ? 1.0 : (double) (maxDepth - depth) / maxDepth;
        int filled = (int) Math.round(done * BAR);
        StringBuilder b = new StringBuilder("drain [");
        b.append("#".repeat(filled)).append(".".repeat(BAR - filled)).append("] ")
                .append(Math.round(done * 100)).append("%  ").append(depth).append(" of ").append(maxDepth)
                .append(" left, ").append(perMinute).append("/min");
        if (depth > 0 && perMinute > 0) {
            b.append(", about ").append(Format.age(depth * 60 / perMinute)).append(" to go");
        }
        if (held > 0) {
            b.append("; ").append(held).append(" held (not drained)");
        }
        return b.toString();
    }
}
