package relaybox.relay;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/** The real daemon in a child JVM ({@code relaybox run --config FILE}), its output collected. */
final class DaemonProcess implements AutoCloseable {

    private static final Pattern STARTED = Pattern.compile("intake on \\[/127\\.0\\.0\\.1:(\\d+)\\]");

    final Process process;
    final List<String> output = new CopyOnWriteArrayList<>();
    private volatile int port = -1;

    DaemonProcess(Path config) throws IOException {
        process = new ProcessBuilder(Path.of(System.getProperty("java.home"), "bin", "java").toString(),
                "-Xmx256m",
                // The daemon's own logging setup (INFO to stdout), not the tests' quieter one.
                "-Dlogback.configurationFile=" + RelayDaemon.class.getResource("/logback.xml"),
                "-cp", System.getProperty("java.class.path"), RelayDaemon.class.getName(),
                "run", "--config", config.toString())
                .redirectErrorStream(true).start();
        Thread reader = new Thread(() -> {
            try (BufferedReader r = new BufferedReader(new InputStreamReader(process.getInputStream(),
                    StandardCharsets.UTF_8))) {
                for (String l; (l = r.readLine()) != null; ) {
                    output.add(l);
                    Matcher m = STARTED.matcher(l);
                    if (m.find()) {
                        port = Integer.parseInt(m.group(1));
                    }
                }
            } catch (IOException e) {
                // The process is gone.
            }
        }, "daemon-output");
        reader.setDaemon(true);
        reader.start();
    }

    /**
     * Writes a config file for a daemon on 127.0.0.1:0 with its queue in {@code queueDir}, its
     * control socket in {@code dir}, and an upstream that refuses connections (port 9 on
     * loopback), so every accepted message stays in the queue, deferred, for the test to inspect.
     */
    static Path config(Path dir, Path queueDir, String extra) throws IOException {
        Path f = dir.resolve("relaybox.conf");
        Files.writeString(f, "intake_listen = [\"127.0.0.1:0\"]\nintake_hostname = \"relay.test\"\n"
                + "intake_drain_timeout = \"5s\"\nqueue_dir = \"" + queueDir + "\"\n"
                + "control_socket = \"" + dir.resolve("control.sock") + "\"\ncontrol_group = \"\"\n" + extra
                + "\n[[upstream]]\nname = \"nowhere\"\ntype = \"smtp\"\nhost = \"127.0.0.1\"\nport = 9\ntls = \"none\"\n");
        return f;
    }

    /** Waits until the daemon has bound its listener; returns the port. */
    int awaitPort() throws InterruptedException {
        long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        while (port < 0) {
            if (!process.isAlive() || System.nanoTime() > deadline) {
                throw new IllegalStateException("daemon did not start: " + String.join("\n", output));
            }
            Thread.sleep(20);
        }
        return port;
    }

    void kill() throws InterruptedException {
        process.destroyForcibly();
        process.waitFor(30, TimeUnit.SECONDS);
    }

    @Override
    public void close() throws InterruptedException {
        if (process.isAlive()) {
            kill();
        }
    }
}
