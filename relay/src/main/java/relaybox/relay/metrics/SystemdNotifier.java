package relaybox.relay.metrics;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.BooleanSupplier;

/**
 * Owns telling systemd about the daemon's life ({@code Type=notify}): READY=1 once the intake
 * accepts, STOPPING=1 on shutdown, STATUS= lines for {@code systemctl status}, and WATCHDOG=1 pings
 * while the daemon is alive. Does nothing when systemd did not ask ({@code NOTIFY_SOCKET} unset).
 *
 * <p>Why a helper process: the notify socket is a Unix <em>datagram</em> socket, and the JDK
 * (17, and still 25) opens Unix-domain sockets only as streams ({@code DatagramChannel.open(UNIX)}
 * throws UnsupportedOperationException), so Java cannot write to it without native code. We run
 * {@code systemd-notify VAR=value...} instead. Since systemd 246 it waits (BARRIER=1) until the
 * manager has read the message, so the message is attributed to the unit although the helper
 * exits at once; the unit needs {@code NotifyAccess=all} because the helper is not the main PID.
 * A ping costs one short-lived process per interval (half of {@code WatchdogSec}).
 *
 * <p>Failure behaviour: a failed notification is logged once and otherwise ignored; systemd then
 * times out the start (or the watchdog), which is the right outcome when it cannot hear us.
 */
public final class SystemdNotifier implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(SystemdNotifier.class);

    private final List<String> command;
    private final Map<String, String> env;
    private final long pid;
    private ScheduledExecutorService watchdog;
    private volatile boolean warned;

    SystemdNotifier(List<String> command, Map<String, String> env, long pid) {
        this.command = List.copyOf(command);
        this.env = Map.copyOf(env);
        this.pid = pid;
    }

    /** The notifier for this process: active only when started by systemd with Type=notify. */
    public static SystemdNotifier fromEnvironment() {
        return new SystemdNotifier(List.of("systemd-notify"), System.getenv(), ProcessHandle.current().pid());
    }

    /** True when systemd is listening ({@code NOTIFY_SOCKET} is set). */
    public boolean active() {
        String s = env.get("NOTIFY_SOCKET");
        return s != null && !s.isEmpty();
    }

    /** Start-up is complete: the intake accepts mail. */
    public void ready(String status) {
        send("READY=1", "STATUS=" + status);
    }

    public void status(String status) {
        send("STATUS=" + status);
    }

    /** Shutdown has begun; systemd waits for the exit instead of treating silence as a hang. */
    public void stopping() {
        send("STOPPING=1", "STATUS=stopping");
    }

    /**
     * How often to ping: half of {@code WATCHDOG_USEC}, as sd_watchdog_enabled(3) advises; empty
     * when the unit has no {@code WatchdogSec=} or the watchdog is meant for another process.
     */
    public Optional<Duration> watchdogInterval() {
        String usec = env.get("WATCHDOG_USEC");
        String forPid = env.get("WATCHDOG_PID");
        if (!active() || usec == null || (forPid != null && !forPid.equals(Long.toString(pid)))) {
            return Optional.empty();
        }
        try {
            long us = Long.parseLong(usec.trim());
            return us > 0 ? Optional.of(Duration.ofNanos(us * 1000 / 2)) : Optional.empty();
        } catch (NumberFormatException e) {
            return Optional.empty();
        }
    }

    /**
     * Pings the watchdog every {@link #watchdogInterval()} while {@code alive} says so. Make
     * {@code alive} check what a hang would stop (for example that {@link Health#evaluate} returns
     * and the queue answers), not whether the upstream is up: a restart cannot fix an upstream,
     * nor a full disk.
     */
    public synchronized void startWatchdog(BooleanSupplier alive) {
        Optional<Duration> every = watchdogInterval();
        if (every.isEmpty() || watchdog != null) {
            return;
        }
        watchdog = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "systemd-watchdog");
            t.setDaemon(true);
            return t;
        });
        long ms = Math.max(1, every.get().toMillis());
        watchdog.scheduleWithFixedDelay(() -> tick(alive), 0, ms, TimeUnit.MILLISECONDS);
        LOG.info("systemd watchdog: pinging every {} ms", ms);
    }

    /** One watchdog period: ping only if alive. Returns whether it pinged. */
    boolean tick(BooleanSupplier alive) {
        boolean ok;
        try {
            ok = alive.getAsBoolean();
        } catch (RuntimeException e) {
            ok = false;
        }
        if (ok) {
            send("WATCHDOG=1");
        }
        return ok;
    }

    @Override
    public synchronized void close() {
        if (watchdog != null) {
            watchdog.shutdownNow();
            watchdog = null;
        }
    }

    private void send(String... assignments) {
        if (!active()) {
            return;
        }
        List<String> cmd = new ArrayList<>(command);
        cmd.addAll(List.of(assignments));
        try {
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true)
                    .redirectOutput(ProcessBuilder.Redirect.DISCARD);
            pb.environment().put("NOTIFY_SOCKET", env.get("NOTIFY_SOCKET"));
            Process p = pb.start();
            // The helper waits for systemd to read the message; it never takes long unless PID 1 is stuck.
            if (!p.waitFor(10, TimeUnit.SECONDS)) {
                p.destroyForcibly();
                warnOnce("systemd-notify did not finish within 10s");
            } else if (p.exitValue() != 0) {
                warnOnce("systemd-notify exited with " + p.exitValue());
            }
        } catch (java.io.IOException e) {
            warnOnce("cannot run systemd-notify: " + e.getMessage());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void warnOnce(String what) {
        if (!warned) {
            warned = true;
            LOG.warn("systemd notification failed ({}); check NotifyAccess=all in the unit", what);
        }
    }
}
