package relaybox.relay.intake;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import relaybox.queue.memory.InMemoryQueue;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The relay policy seen by a client that really is on another network: swaks runs inside a
 * network namespace joined to this one by a private veth pair (nothing leaves the machine). With
 * the default intake_networks (loopback only) it must get 554 5.7.1. Needs root and swaks;
 * skipped otherwise.
 */
class NetnsRelayPolicyTest {

    private final int n = 100 + new Random().nextInt(150);
    private final String ns = "rbx" + n;
    private final String hostIf = "rbxh" + n;
    private final String nsIf = "rbxn" + n;
    private final String hostIp = "10.213." + n + ".1";
    private boolean created;

    private static int sh(String... cmd) throws Exception {
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        p.getInputStream().readAllBytes();
        return p.waitFor(20, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    @AfterEach
    void cleanup() throws Exception {
        if (created) {
            sh("ip", "link", "del", hostIf);
            sh("ip", "netns", "del", ns);
        }
    }

    @Test
    void clientFromAnotherNetworkIsRefused() throws Exception {
        assumeTrue("root".equals(System.getProperty("user.name")), "network namespaces need root");
        assumeTrue(new File("/usr/bin/swaks").canExecute(), "swaks is not installed");
        assumeTrue(sh("ip", "netns", "add", ns) == 0, "cannot create a network namespace here");
        created = true;
        assertTrue(sh("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf) == 0);
        assertTrue(sh("ip", "link", "set", nsIf, "netns", ns) == 0);
        assertTrue(sh("ip", "addr", "add", hostIp + "/30", "dev", hostIf) == 0);
        assertTrue(sh("ip", "link", "set", hostIf, "up") == 0);
        assertTrue(sh("ip", "netns", "exec", ns, "ip", "addr", "add", "10.213." + n + ".2/30", "dev", nsIf) == 0);
        assertTrue(sh("ip", "netns", "exec", ns, "ip", "link", "set", nsIf, "up") == 0);
        // The intake listens on the veth address only; intake_networks stays at its default (loopback).
        ControllableQueue queue = new ControllableQueue();
        try (IntakeHarness h = new IntakeHarness(queue, "", hostIp)) {
            List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, "timeout", "30", "swaks",
                    "--server", hostIp, "--port", String.valueOf(h.address().getPort()),
                    "--from", "a@b.example", "--to", "c@d.example", "--helo", "outside.test"));
            Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
            String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
            p.waitFor(40, TimeUnit.SECONDS);
            assertTrue(out.contains("<** 554 5.7.1 <c@d.example>: Relay access denied"), out);
            assertTrue(queue.list().isEmpty());
            assertTrue(h.lines.stream().anyMatch(l -> l.startsWith("- intake rejected from=<a@b.example> "
                    + "to=<c@d.example> client=10.213." + n + ".2 ")), h.lines.toString());
        }
    }
}
