package relaybox.relay.reliability;

import relaybox.relay.intake.Awaits;

import java.io.IOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;

/**
 * The real daemon as a child JVM ({@code MAIN run --config FILE}), for every test that runs it:
 * kills, full disks and floods, and the command line's {@code relaybox run} as an operator starts
 * it. It owns the child process and its log file; the test owns the configuration text (see
 * {@link #baseConfig}) and the directories. What it launches is the main class it is given:
 * {@link #RELAY_DAEMON} (the relay module's own entry) or {@link #RELAYBOX_CLI} (admin-cli's).
 *
 * <p>The child runs from the test JVM's own class path, which holds the relay, queue and every
 * dependency. The daemon's config cannot say "port 0", so {@link #freePort()} binds port 0 once
 * and hands the number on; the intake keeps that port across restarts. (A test that lets the
 * intake take any port passes 0 and does not ask {@link #intakeAnswers()}.)
 *
 * <p>{@link #kill()} is SIGKILL ({@code destroyForcibly}), {@link #stop()} is SIGTERM
 * ({@code destroy}), which runs the daemon's shutdown hook and closes the store cleanly. Every
 * start appends to the same log file, so a failure can show the whole history.
 */
public final class DaemonProcess implements AutoCloseable {

    /** The relay module's entry point. */
    public static final String RELAY_DAEMON = "relaybox.relay.RelayDaemon";
    /** The {@code relaybox} command line, whose {@code run} starts the same daemon. */
    public static final String RELAYBOX_CLI = "relaybox.admin.Main";

    /** The daemon's logging as shipped (INFO, the mail log), for a child JVM whose class path says WARN. */
    public static final String LOGBACK = """
            <configuration>
              <statusListener class="ch.qos.logback.core.status.NopStatusListener"/>
              <appender name="OUT" class="ch.qos.logback.core.ConsoleAppender">
                <encoder><pattern>%d{HH:mm:ss.SSS} %-5level %logger{0}: %msg%n</pattern></encoder>
              </appender>
              <logger name="org.apache.james" level="WARN"/>
              <logger name="io.netty" level="WARN"/>
              <root level="INFO"><appender-ref ref="OUT"/></root>
            </configuration>
            """;

    private final String mainClass;
    private final Path config;
    private final Path log;
    private final int intakePort;
    private final List<String> jvmOptions;
    private final String classPath;
    private Process process;
    private long logStart;
    private int starts;

    public DaemonProcess(Path config, Path log, int intakePort, List<String> jvmOptions) {
        this(RELAY_DAEMON, config, log, intakePort, jvmOptions);
    }

    /**
     * @param mainClass  {@link #RELAY_DAEMON} or {@link #RELAYBOX_CLI}; either is run as {@code run --config FILE}
     * @param jvmOptions options for the child JVM; a {@code -Dlogback.configurationFile} among them
     *                   replaces {@link #LOGBACK}
     */
    public DaemonProcess(String mainClass, Path config, Path log, int intakePort, List<String> jvmOptions) {
        this(mainClass, config, log, intakePort, jvmOptions, classPath());
    }

    /** As above, on {@code classPath} instead of the test's (see {@link #jarsOnly}). */
    public DaemonProcess(String mainClass, Path config, Path log, int intakePort, List<String> jvmOptions,
                         String classPath) {
        this.mainClass = mainClass;
        this.config = config;
        this.log = log;
        this.intakePort = intakePort;
        this.jvmOptions = List.copyOf(jvmOptions);
        this.classPath = classPath;
    }

    /** A free loopback port, found by binding port 0 (the daemon's config cannot say 0). */
    public static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket()) {
            s.setReuseAddress(true);
            s.bind(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0));
            return s.getLocalPort();
        }
    }

    /**
     * The top-level keys of a test daemon's config: intake on {@code intakePort}, queue and control
     * socket in {@code dir}, short retry and probe timings so that a test drains in seconds. The
     * test appends its own keys and [[upstream]] tables.
     */
    public static String baseKeys(Path dir, Path queueDir, int intakePort) {
        return """
                intake_listen = ["127.0.0.1:%d"]
                queue_dir = "%s"
                control_socket = "%s"
                control_group = ""
                queue_retry_min = "1s"
                queue_retry_max = "2s"
                forward_probe_interval = "500ms"
                forward_connect_timeout = "5s"
                forward_command_timeout = "10s"
                forward_data_timeout = "10s"
                forward_dsn = false
                """.formatted(intakePort, queueDir, controlSocket(dir));
    }

    /**
     * A config for a test daemon: {@link #baseKeys}, then {@code extraKeys}, then one plain-text
     * SMTP upstream on {@code upstreamPort}.
     */
    public static String baseConfig(Path dir, Path queueDir, int intakePort, int upstreamPort, String extraKeys) {
        return baseKeys(dir, queueDir, intakePort) + extraKeys + """

                [[upstream]]
                name = "sink"
                host = "127.0.0.1"
                port = %d
                tls = "none"
                """.formatted(upstreamPort);
    }

    public static Path controlSocket(Path dir) {
        return dir.resolve("control.sock");
    }

    /** Spawns the daemon and returns at once (it may still be recovering its queue). */
    public synchronized void spawn() throws IOException {
        if (process != null && process.isAlive()) {
            throw new IllegalStateException("already running");
        }
        List<String> cmd = new ArrayList<>();
        cmd.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        cmd.addAll(jvmOptions);
        if (jvmOptions.stream().noneMatch(o -> o.startsWith("-Dlogback.configurationFile="))) {
            // The test class path carries logback-test.xml (WARN only); the daemon logs as shipped.
            Path logback = log.resolveSibling("daemon-logback.xml");
            if (!Files.exists(logback)) {
                Files.writeString(logback, LOGBACK);
            }
            cmd.add("-Dlogback.configurationFile=" + logback);
        }
        cmd.add("-cp");
        cmd.add(classPath);
        cmd.add(mainClass);
        cmd.add("run");
        cmd.add("--config");
        cmd.add(config.toString());
        logStart = Files.exists(log) ? Files.size(log) : 0;
        Files.writeString(log, "==== start " + (++starts) + "\n", StandardCharsets.UTF_8,
                java.nio.file.StandardOpenOption.CREATE, java.nio.file.StandardOpenOption.APPEND);
        process = new ProcessBuilder(cmd)
                .redirectErrorStream(true)
                .redirectOutput(ProcessBuilder.Redirect.appendTo(log.toFile()))
                .start();
    }

    /**
     * Spawns the daemon and waits until its intake answers (its "relaybox started" log line).
     * Throws if it exits first or does not come up in time.
     */
    public void start(Duration timeout) throws IOException, InterruptedException {
        spawn();
        awaitReady(timeout);
    }

    public void awaitReady(Duration timeout) throws IOException, InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (currentLog().contains("relaybox started")) {
                return;
            }
            Process p = process;
            if (!p.isAlive()) {
                throw new IllegalStateException("daemon exited with " + p.exitValue() + " before it was ready:\n"
                        + tail(currentLog(), 4000));
            }
            Thread.sleep(10);
        }
        throw new IllegalStateException("daemon not ready after " + timeout + ":\n" + tail(currentLog(), 4000));
    }

    /**
     * The test JVM's class path: surefire's own list where it gives one (its java.class.path may
     * be a manifest-only jar), else java.class.path.
     */
    public static String classPath() {
        return System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
    }

    /**
     * The jars of {@code classPath}, without its directories (test classes): a class-data archive
     * holds classes from jars only, and the JVM refuses to write one for a class path with a
     * directory that has classes in it. Null unless those jars hold {@code mainClass}.
     */
    public static String jarsOnly(String classPath, String mainClass) {
        List<String> jars = new ArrayList<>();
        boolean found = false;
        String entry = mainClass.replace('.', '/') + ".class";
        for (String e : classPath.split(java.io.File.pathSeparator)) {
            if (!e.endsWith(".jar") || !Files.isRegularFile(Path.of(e))) {
                continue;
            }
            jars.add(e);
            if (!found) {
                try (java.util.zip.ZipFile z = new java.util.zip.ZipFile(e)) {
                    found = z.getEntry(entry) != null;
                } catch (IOException ignored) {
                    // not a readable jar: the JVM will say so if it matters
                }
            }
        }
        return found ? String.join(java.io.File.pathSeparator, jars) : null;
    }

    /**
     * Waits up to {@code limit} for {@code condition}; on timeout fails naming {@code what}, with
     * this run's log.
     */
    public void await(String what, Duration limit, Callable<Boolean> condition) throws InterruptedException {
        Awaits.until(what, limit, condition, () -> {
            try {
                return currentLog();
            } catch (IOException e) {
                return "(log unreadable: " + e + ")";
            }
        });
    }

    /** SIGKILL, and waits until the process is gone. */
    public synchronized void kill() throws InterruptedException {
        if (process != null) {
            process.destroyForcibly();
            process.waitFor();
        }
    }

    /** SIGTERM; returns the exit code, or throws if the daemon does not stop in time. */
    public synchronized int stop(Duration timeout) throws InterruptedException {
        if (process == null || !process.isAlive()) {
            return process == null ? 0 : process.exitValue();
        }
        process.destroy();
        if (!process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS)) {
            process.destroyForcibly();
            throw new IllegalStateException("daemon did not stop within " + timeout);
        }
        return process.exitValue();
    }

    public boolean alive() {
        return process != null && process.isAlive();
    }

    public long pid() {
        return process.pid();
    }

    public int intakePort() {
        return intakePort;
    }

    /** The log of the current (or last) run only. */
    public String currentLog() throws IOException {
        byte[] all = Files.exists(log) ? Files.readAllBytes(log) : new byte[0];
        int from = (int) Math.min(logStart, all.length);
        return new String(all, from, all.length - from, StandardCharsets.UTF_8);
    }

    /** How many times {@code part} stands in the log of the current (or last) run. */
    public int logCount(String part) throws IOException {
        String text = currentLog();
        int n = 0;
        for (int i = text.indexOf(part); i >= 0; i = text.indexOf(part, i + 1)) {
            n++;
        }
        return n;
    }

    /** The log of every run so far. */
    public String wholeLog() throws IOException {
        return Files.exists(log) ? Files.readString(log, StandardCharsets.ISO_8859_1) : "";
    }

    /**
     * Peak resident set size of the running daemon in KiB (VmHWM from /proc), or -1 when the
     * platform has no /proc.
     */
    public long peakRssKib() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(process.pid()), "status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Long.parseLong(line.replaceAll("[^0-9]", ""));
                }
            }
        } catch (IOException | RuntimeException e) {
            return -1;
        }
        return -1;
    }

    /** True when a TCP connection to the intake succeeds now. */
    public boolean intakeAnswers() {
        try (Socket s = new Socket()) {
            s.connect(new InetSocketAddress(InetAddress.getLoopbackAddress(), intakePort), 500);
            return true;
        } catch (IOException e) {
            return false;
        }
    }

    public static String tail(String s, int chars) {
        return s.length() <= chars ? s : "..." + s.substring(s.length() - chars);
    }

    @Override
    public void close() throws InterruptedException {
        kill();
    }
}
