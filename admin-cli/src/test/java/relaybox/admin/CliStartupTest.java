package relaybox.admin;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * What a short-lived command loads, in a fresh JVM as an operator runs it. Of the half second
 * an operator's {@code relaybox queue retry --all} took, 0.19 s went to picocli building every
 * command's model and 0.17 s to constructing an ObjectMapper; neither is needed to ask the daemon.
 */
class CliStartupTest {

    @TempDir
    Path tmp;

    @Test
    void aQueueCommandLoadsNeitherOtherCommandsNorAnObjectMapper() throws Exception {
        Path log = tmp.resolve("classes.log");
        String java = ProcessHandle.current().info().command().orElse("java");
        String cp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        Process p = new ProcessBuilder(java, "-Xlog:class+load=info:file=" + log, "-cp", cp, "relaybox.admin.Main",
                "queue", "retry", "--all", "--socket", tmp.resolve("no-daemon.sock").toString())
                .redirectErrorStream(true).redirectOutput(tmp.resolve("out").toFile()).start();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS));
        String out = Files.readString(tmp.resolve("out"));
        assertEquals(Cli.UNREACHABLE, p.exitValue(), out);
        assertTrue(out.contains("not reachable"), out);
        List<String> loaded = Files.readAllLines(log);
        assertTrue(loaded.stream().anyMatch(l -> l.contains(" relaybox.admin.RetryCommand ")), "log is of this run");
        assertTrue(loaded.stream().anyMatch(l -> l.contains(" relaybox.relay.control.api.ControlRequest$Act ")), "log is of this run");
        for (String unwanted : List.of(" com.fasterxml.jackson.databind.ObjectMapper ", " relaybox.relay.control.ControlJson ",
                " relaybox.admin.DkimCommand$Keygen ", " relaybox.admin.ConfigCommand$Check ",
                " relaybox.admin.UpstreamCommand$Test ")) {
            assertFalse(loaded.stream().anyMatch(l -> l.contains(unwanted)), unwanted.trim() + " was loaded");
        }
    }

    @Test
    void everyCommandIsListedUnderItsOwnName() {
        Main.Commands.ALL.forEach((name, c) ->
                assertEquals(c.getAnnotation(picocli.CommandLine.Command.class).name(), name, c.getName()));
    }

    @Test
    void helpStillListsEveryCommand() {
        AdminHarness.Result r = AdminHarness.exec(tmp.resolve("no.conf"), java.util.Map.of(), "", "--help");
        assertEquals(0, r.code(), r.toString());
        for (String c : List.of("run", "queue", "status", "config", "upstream", "sendmail", "dkim", "help")) {
            assertTrue(r.out().contains("\n  " + c + " "), c + " missing from\n" + r.out());
        }
        AdminHarness.Result bad = AdminHarness.exec(tmp.resolve("no.conf"), java.util.Map.of(), "", "qeue", "list");
        assertEquals(Cli.USAGE, bad.code(), bad.toString());
        assertTrue(bad.err().contains("Did you mean: relaybox queue"), bad.toString());
    }
}
