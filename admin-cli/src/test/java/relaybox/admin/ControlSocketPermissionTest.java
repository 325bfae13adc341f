package relaybox.admin;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import relaybox.queue.RetrySchedule;
import relaybox.queue.mapdb.MapDbQueue;
import relaybox.relay.config.ControlConfig;
import relaybox.relay.control.ControlServer;
import relaybox.relay.control.ControlService;
import relaybox.relay.control.StatusSource;
import relaybox.relay.log.MailLog;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The socket's mode and group are the access control. Root is never denied by file modes, so
 * when the tests run as root the client runs as {@code nobody} in a child JVM (runuser), with a
 * copy of the class path it can read; as another user, the socket is made mode 000 instead.
 */
class ControlSocketPermissionTest {

    private Path dir;
    private MapDbQueue queue;
    private ControlService service;
    private ControlServer server;

    @BeforeEach
    void setUp() throws Exception {
        // Not @TempDir: that directory is 0700, and the unprivileged client must traverse it.
        dir = Files.createTempDirectory(Path.of("/tmp"), "relaybox-perm-");
        Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwxr-xr-x"));
        queue = MapDbQueue.open(dir.resolve("queue"), 0, RetrySchedule.DEFAULT, Clock.systemUTC());
        service = new ControlService(queue, StatusSource.none(Clock.systemUTC().instant()), null, null,
                new MailLog(l -> { }), Clock.systemUTC());
    }

    @AfterEach
    void tearDown() throws IOException {
        if (server != null) {
            server.close();
        }
        service.close();
        queue.close();
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.deleteIfExists(p);
            }
        }
    }

    private static boolean root() {
        return "root".equals(System.getProperty("user.name"));
    }

    private void serve(String group) throws IOException {
        server = new ControlServer(new ControlConfig(dir.resolve("control.sock"), group), service);
        server.start();
        assertEquals("rw-rw----", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir.resolve("control.sock"))));
    }

    @Test
    void aUserOutsideTheGroupIsDeniedWithExitThree() throws Exception {
        serve("");
        if (!root()) {
            Files.setPosixFilePermissions(dir.resolve("control.sock"), PosixFilePermissions.fromString("---------"));
            AdminHarness.Result r = AdminHarness.exec(dir.resolve("none.conf"), Map.of(), "", "status", "--socket",
                    dir.resolve("control.sock").toString());
            assertEquals(3, r.code(), r.toString());
            assertTrue(r.err().contains("permission denied"), r.toString());
            return;
        }
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/runuser")), "runuser is needed to test as a non-root user");
        AdminHarness.Result r = runAsNobody("status", "--socket", dir.resolve("control.sock").toString());
        assertEquals(3, r.code(), r.toString());
        assertTrue(r.err().contains("permission denied on control socket"), r.toString());
    }

    @Test
    void aMemberOfTheControlGroupGetsIn() throws Exception {
        assumeTrue(root(), "setting the socket's group to one the test user is in needs root here");
        assumeTrue(Files.isExecutable(Path.of("/usr/sbin/runuser")), "runuser is needed to test as a non-root user");
        serve("nogroup"); // nobody's primary group on Debian
        AdminHarness.Result r = runAsNobody("status", "--socket", dir.resolve("control.sock").toString());
        assertEquals(0, r.code(), r.toString());
        assertTrue(r.out().contains("relaybox daemon is up"), r.toString());
    }

    /** Runs the CLI as nobody in a child JVM over a world-readable copy of the needed class path. */
    private AdminHarness.Result runAsNobody(String... args) throws Exception {
        Path cpDir = dir.resolve("cp");
        Files.createDirectories(cpDir);
        List<String> cp = new ArrayList<>();
        String testCp = System.getProperty("surefire.test.class.path", System.getProperty("java.class.path"));
        int n = 0;
        for (String e : testCp.split(File.pathSeparator)) {
            Path p = Path.of(e);
            String name = p.toString();
            // Everything the CLI may load (picocli introspects every command, dkim's included).
            boolean needed = !name.endsWith("test-classes") && !name.contains("junit") && !name.contains("surefire");
            if (!needed || !Files.exists(p)) {
                continue;
            }
            Path target = cpDir.resolve(n++ + "-" + p.getFileName());
            copy(p, target);
            cp.add(target.toString());
        }
        try (Stream<Path> s = Files.walk(cpDir)) {
            for (Path p : s.toList()) {
                Files.setPosixFilePermissions(p, PosixFilePermissions.fromString(Files.isDirectory(p) ? "rwxr-xr-x"
                        : "rw-r--r--"));
            }
        }
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> cmd = new ArrayList<>(List.of("/usr/sbin/runuser", "-u", "nobody", "--", java, "-cp",
                String.join(File.pathSeparator, cp), "relaybox.admin.Main"));
        cmd.addAll(List.of(args));
        Process p = new ProcessBuilder(cmd).directory(dir.toFile()).start();
        p.getOutputStream().close();
        assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the child JVM did not finish");
        return new AdminHarness.Result(p.exitValue(), new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8),
                new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8));
    }

    private static void copy(Path from, Path to) throws IOException {
        if (!Files.isDirectory(from)) {
            Files.copy(from, to, StandardCopyOption.REPLACE_EXISTING);
            return;
        }
        try (Stream<Path> s = Files.walk(from)) {
            for (Path p : s.toList()) {
                Path t = to.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(t);
                } else {
                    Files.copy(p, t, StandardCopyOption.REPLACE_EXISTING);
                }
            }
        }
    }
}
