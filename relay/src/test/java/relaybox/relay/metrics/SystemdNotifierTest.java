package relaybox.relay.metrics;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Drives SystemdNotifier with a stand-in for systemd-notify that records its arguments. */
class SystemdNotifierTest {

    @TempDir
    Path dir;

    private Path fakeNotify() throws Exception {
        Path script = dir.resolve("systemd-notify");
        Files.writeString(script, "#!/bin/sh\necho \"$NOTIFY_SOCKET $*\" >> \"$(dirname \"$0\")/sent\"\n");
        Files.setPosixFilePermissions(script, PosixFilePermissions.fromString("rwx------"));
        return script;
    }

    private List<String> sent() throws Exception {
        Path f = dir.resolve("sent");
        return Files.exists(f) ? Files.readAllLines(f) : List.of();
    }

    @Test
    void withoutNotifySocketNothingIsSent() throws Exception {
        SystemdNotifier n = new SystemdNotifier(List.of(fakeNotify().toString()), Map.of(), 42);
        assertFalse(n.active());
        n.ready("up");
        assertEquals(List.of(), sent());
        assertEquals(Optional.empty(), n.watchdogInterval());
    }

    @Test
    void readyStatusAndStopping() throws Exception {
        SystemdNotifier n = new SystemdNotifier(List.of(fakeNotify().toString()),
                Map.of("NOTIFY_SOCKET", "/run/systemd/notify"), 42);
        n.ready("accepting mail on 127.0.0.1:25");
        n.stopping();
        assertEquals(List.of("/run/systemd/notify READY=1 STATUS=accepting mail on 127.0.0.1:25",
                "/run/systemd/notify STOPPING=1 STATUS=stopping"), sent());
    }

    @Test
    void watchdogPingsAtHalfTheTimeoutOnlyWhileAlive() throws Exception {
        SystemdNotifier n = new SystemdNotifier(List.of(fakeNotify().toString()),
                Map.of("NOTIFY_SOCKET", "/run/systemd/notify", "WATCHDOG_USEC", "60000000", "WATCHDOG_PID", "42"),
                42);
        assertEquals(Optional.of(Duration.ofSeconds(30)), n.watchdogInterval());
        assertTrue(n.tick(() -> true));
        assertFalse(n.tick(() -> false));
        assertFalse(n.tick(() -> {
            throw new IllegalStateException("queue closed");
        }));
        assertEquals(List.of("/run/systemd/notify WATCHDOG=1"), sent());
    }

    @Test
    void watchdogMeantForAnotherProcessIsIgnored() {
        SystemdNotifier n = new SystemdNotifier(List.of("true"),
                Map.of("NOTIFY_SOCKET", "/run/systemd/notify", "WATCHDOG_USEC", "60000000", "WATCHDOG_PID", "7"), 42);
        assertEquals(Optional.empty(), n.watchdogInterval());
    }

    @Test
    void aMissingHelperIsNotFatal() {
        SystemdNotifier n = new SystemdNotifier(List.of(dir.resolve("absent").toString()),
                Map.of("NOTIFY_SOCKET", "/run/systemd/notify"), 42);
        n.ready("up");
    }
}
