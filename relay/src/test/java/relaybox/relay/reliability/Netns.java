package relaybox.relay.reliability;

import java.io.File;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

/**
 * A network namespace joined to this one by a private veth pair, for clients that really are on
 * another network (non-loopback addresses; nothing leaves the machine). The host side is
 * {@link #hostV4()} and {@link #hostV6()}; the namespace side holds {@code addresses} IPv4
 * addresses of one /24 and as many IPv6 addresses of one /64. Needs root; {@link #create} returns
 * null where namespaces cannot be made. Removed on {@link #close()}.
 */
final class Netns implements AutoCloseable {

    private final int n = 100 + new Random().nextInt(150);
    private final String ns = "rbxh" + n;
    private final String hostIf = "rbxa" + n;
    private final String nsIf = "rbxb" + n;
    private final List<String> v4 = new ArrayList<>();
    private final List<String> v6 = new ArrayList<>();
    /** False where the kernel has IPv6 switched off (common in containers): the namespace is IPv4 only. */
    private boolean ipv6;

    /** Runs a command; its exit code, or -1 when it cannot be started (not installed) or hangs. */
    static int sh(String... cmd) throws Exception {
        Process p;
        try {
            p = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        } catch (java.io.IOException notThere) {
            return -1;
        }
        p.getInputStream().readAllBytes();
        return p.waitFor(20, TimeUnit.SECONDS) ? p.exitValue() : -1;
    }

    /** A namespace with {@code addresses} client addresses per family, or null when not possible here. */
    static Netns create(int addresses) throws Exception {
        if (!"root".equals(System.getProperty("user.name")) || sh("ip", "netns", "add", "rbxprobe" + ProcessHandle.current().pid()) != 0) {
            return null;
        }
        sh("ip", "netns", "del", "rbxprobe" + ProcessHandle.current().pid());
        Netns x = new Netns();
        try {
            x.setUp(addresses);
        } catch (Exception e) {
            x.close();
            throw e;
        }
        return x;
    }

    private void setUp(int addresses) throws Exception {
        must("ip", "netns", "add", ns);
        must("ip", "link", "add", hostIf, "type", "veth", "peer", "name", nsIf);
        must("ip", "link", "set", nsIf, "netns", ns);
        must("ip", "addr", "add", hostV4() + "/24", "dev", hostIf);
        ipv6 = sh("ip", "-6", "addr", "add", hostV6() + "/64", "dev", hostIf, "nodad") == 0;
        must("ip", "link", "set", hostIf, "up");
        must("ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up");
        for (int i = 0; i < addresses; i++) {
            String a4 = "10.216." + n + "." + (2 + i);
            String a6 = "fd00:216:" + Integer.toHexString(n) + ":0:" + Integer.toHexString(0x1000 + i) + "::2";
            must("ip", "netns", "exec", ns, "ip", "addr", "add", a4 + "/24", "dev", nsIf);
            v4.add(a4);
            if (ipv6) {
                must("ip", "netns", "exec", ns, "ip", "-6", "addr", "add", a6 + "/64", "dev", nsIf, "nodad");
                v6.add(a6);
            }
        }
        must("ip", "netns", "exec", ns, "ip", "link", "set", nsIf, "up");
    }

    private static void must(String... cmd) throws Exception {
        int rc = sh(cmd);
        if (rc != 0) {
            throw new IllegalStateException(String.join(" ", cmd) + " exited " + rc);
        }
    }

    String hostV4() {
        return "10.216." + n + ".1";
    }

    String hostV6() {
        return "fd00:216:" + Integer.toHexString(n) + "::1";
    }

    List<String> v4() {
        return v4;
    }

    /** Empty where the kernel has IPv6 switched off. */
    List<String> v6() {
        return v6;
    }

    boolean hasIpv6() {
        return ipv6;
    }

    /** Starts {@code command} inside the namespace; its output goes to {@code log}. */
    Process start(File log, String... command) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns));
        cmd.addAll(List.of(command));
        return new ProcessBuilder(cmd).redirectErrorStream(true).redirectOutput(log)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
    }

    /** Runs {@code command} inside the namespace and returns its output. */
    String run(long timeoutSeconds, String... command) throws Exception {
        List<String> cmd = new ArrayList<>(List.of("ip", "netns", "exec", ns, "timeout", String.valueOf(timeoutSeconds)));
        cmd.addAll(List.of(command));
        Process p = new ProcessBuilder(cmd).redirectErrorStream(true)
                .redirectInput(ProcessBuilder.Redirect.from(new File("/dev/null"))).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        p.waitFor(timeoutSeconds + 10, TimeUnit.SECONDS);
        return out;
    }

    @Override
    public void close() throws Exception {
        sh("ip", "link", "del", hostIf);
        sh("ip", "netns", "del", ns);
    }
}
