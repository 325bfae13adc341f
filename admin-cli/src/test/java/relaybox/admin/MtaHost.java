package relaybox.admin;

import relaybox.relay.intake.Awaits;
import relaybox.relay.reliability.DaemonProcess;

import java.io.IOException;
import java.io.OutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * A host with relaybox as its MTA, for tests with real clients: the real daemon in a child JVM
 * ({@code relaybox run --config}, run by {@link DaemonProcess}), local_domain host.example, root aliased to admin@corp.example,
 * an outbox upstream (each delivered message one .eml file, to be byte-checked), a drop directory
 * of mode 1733, and a {@code sendmail} program (a shell wrapper, as /usr/sbin/sendmail is) that
 * real clients are pointed at. Everything lives in a world-readable directory, so that a
 * sendmail run as another user (nobody) can read the classes and the config.
 */
final class MtaHost implements AutoCloseable {

    final Path dir;
    final Path conf;
    final Path outbox;
    final Path drop;
    final Path sendmail;
    final Path log;
    final int port;
    private final DaemonProcess daemon;

    MtaHost(Path dir) throws IOException {
        this.dir = dir;
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        this.outbox = dir.resolve("outbox");
        this.drop = dir.resolve("maildrop");
        this.conf = dir.resolve("relaybox.conf");
        this.log = dir.resolve("daemon.log");
        Files.createDirectories(outbox);
        Files.createDirectories(drop);
        // As the package makes it (minus the setgid group, which needs the relaybox group): anyone
        // may add a file, nobody else may list, and the sticky bit stops removal and renaming.
        Files.setPosixFilePermissions(drop, PosixFilePermissions.fromString("rwx-wx-wx"));
        chmodSticky(drop);
        port = DaemonProcess.freePort();
        Files.writeString(conf, """
                intake_listen = ["127.0.0.1:%2$d"]
                intake_hostname = "relay.test"
                queue_dir = "%1$s/queue"
                queue_min_free_space = 0
                control_socket = "%1$s/control.sock"
                control_group = ""
                local_domain = "host.example"
                intake_bare_newline = "normalize"
                drop_dir = "%1$s/maildrop"
                drop_poll_interval = "200ms"

                [aliases]
                root = "admin@corp.example"
                postmaster = "root"

                [[upstream]]
                name = "outbox"
                type = "outbox"
                dir = "%1$s/outbox"
                """.formatted(dir, port));
        // The class path, copied where another user can read it (~/.m2 and the build tree may be private).
        Path lib = dir.resolve("lib");
        Files.createDirectories(lib);
        Files.setPosixFilePermissions(lib, PosixFilePermissions.fromString("rwxr-xr-x"));
        StringBuilder cp = new StringBuilder();
        String[] entries = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"))
                .split(java.io.File.pathSeparator);
        for (int i = 0; i < entries.length; i++) {
            Path e = Path.of(entries[i]);
            if (entries[i].contains("test-classes") || !Files.exists(e)) {
                continue;
            }
            Path t = lib.resolve(i + "-" + e.getFileName());
            copyTree(e, t);
            cp.append(cp.length() == 0 ? "" : ":").append(t);
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        this.sendmail = dir.resolve("sendmail");
        Files.writeString(sendmail, "#!/bin/sh\nexec " + java + " -cp " + cp + " relaybox.admin.Main sendmail"
                + " --config " + conf + " \"$@\"\n");
        Files.setPosixFilePermissions(sendmail, PosixFilePermissions.fromString("rwxr-xr-x"));
        this.daemon = new DaemonProcess(DaemonProcess.RELAYBOX_CLI, conf, log, port, List.of("-Xmx256m"));
    }

    private static void chmodSticky(Path p) throws IOException {
        run(List.of("chmod", "1733", p.toString()), null);
    }

    private static void copyTree(Path from, Path to) throws IOException {
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : (Iterable<Path>) s::iterator) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                    Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rwxr-xr-x"));
                } else {
                    Files.copy(p, t);
                    Files.setPosixFilePermissions(t, PosixFilePermissions.fromString("rw-r--r--"));
                }
            }
        }
    }

    /** Starts the daemon and waits until its intake answers. */
    void start() throws Exception {
        daemon.start(Duration.ofSeconds(90));
    }

    /** SIGTERM, and waits for the exit (SIGKILL after a minute). */
    void stop() throws InterruptedException {
        try {
            daemon.stop(Duration.ofSeconds(60));
        } catch (IllegalStateException slow) {
            daemon.kill();
        }
    }

    /** The daemon's log since its last start. */
    String currentLog() {
        try {
            return daemon.currentLog();
        } catch (IOException e) {
            return "";
        }
    }

    /** The delivered messages, oldest first (queue ids sort by time). */
    List<String> delivered() throws IOException {
        List<String> out = new ArrayList<>();
        try (Stream<Path> s = Files.list(outbox)) {
            for (Path p : s.filter(p -> p.toString().endsWith(".eml")).sorted().toList()) {
                out.add(Files.readString(p, StandardCharsets.ISO_8859_1));
            }
        }
        return out;
    }

    /** Waits until {@code n} messages were delivered, and returns them. */
    List<String> awaitDelivered(int n, Duration limit) throws Exception {
        await(n + " delivered messages", limit, () -> {
            try {
                return delivered().size() >= n;
            } catch (IOException e) {
                return false;
            }
        });
        return delivered();
    }

    record Result(int code, String out, String err) { }

    /** Runs {@code command} with {@code stdin}; the exit code and both outputs. */
    static Result run(List<String> command, String stdin) throws IOException {
        return run(command, stdin, null);
    }

    static Result run(List<String> command, String stdin, Path cwd) throws IOException {
        ProcessBuilder pb = new ProcessBuilder(command);
        if (cwd != null) {
            pb.directory(cwd.toFile());
        }
        Process p = pb.start();
        try (OutputStream in = p.getOutputStream()) {
            if (stdin != null) {
                in.write(stdin.getBytes(StandardCharsets.ISO_8859_1));
            }
        }
        try {
            byte[] out = p.getInputStream().readAllBytes();
            byte[] err = p.getErrorStream().readAllBytes();
            if (!p.waitFor(120, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                fail(command + " did not finish");
            }
            return new Result(p.exitValue(), new String(out, StandardCharsets.ISO_8859_1),
                    new String(err, StandardCharsets.ISO_8859_1));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IOException(e);
        }
    }

    Result sendmail(String stdin, String... args) throws IOException {
        List<String> cmd = new ArrayList<>(List.of(sendmail.toString()));
        cmd.addAll(List.of(args));
        return run(cmd, stdin);
    }

    static void await(String what, Duration limit, BooleanSupplier condition) throws InterruptedException {
        Awaits.until(what, limit, condition);
    }

    static boolean installed(String program) {
        for (String d : System.getenv().getOrDefault("PATH", "/usr/bin:/bin").split(":")) {
            if (Files.isExecutable(Path.of(d, program))) {
                return true;
            }
        }
        return false;
    }

    /** The client's part of a delivered .eml: from its first line after our added headers. */
    static String clientPart(String eml, String firstLine) {
        int i = eml.indexOf("\r\n" + firstLine);
        return i < 0 ? eml : eml.substring(i + 2);
    }

    @Override
    public void close() throws InterruptedException {
        stop();
    }
}
