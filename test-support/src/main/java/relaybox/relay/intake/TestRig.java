package relaybox.relay.intake;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

/**
 * The setup every in-process test harness shares (the forwarder's {@code Harness},
 * {@code IntakeHarness}, {@code AdminHarness}): the mail-log lines it collects, waits that show
 * those lines when they give up, and closing, after the harness's own parts, what the test handed
 * it with {@link #own}. A test holds one rig in a field marked {@code @AutoClose}, so no test
 * class writes its own tear-down:
 *
 * <pre>
 * &#64;AutoClose private final Harness h = new Harness();
 * private final FakeEsp esp = h.own(new FakeEsp());
 * </pre>
 */
public abstract class TestRig implements AutoCloseable {

    /** The mail log's lines in order: the harness gives {@code lines::add} to its {@code MailLog}. */
    public final List<String> lines = new CopyOnWriteArrayList<>();
    private final Deque<AutoCloseable> owned = new ArrayDeque<>();

    /** Closes {@code resource} when the rig closes, after the rig's own parts; the newest first. */
    public synchronized <T extends AutoCloseable> T own(T resource) {
        owned.push(resource);
        return resource;
    }

    /** The mail-log lines that contain {@code part}. */
    public List<String> linesWith(String part) {
        return lines.stream().filter(l -> l.contains(part)).collect(Collectors.toList());
    }

    /** Waits for {@code cond}; fails with {@code what} and the mail log's last lines when {@code max} passes. */
    public void await(String what, Duration max, BooleanSupplier cond) {
        try {
            Awaits.until(what, max, cond::getAsBoolean, () -> "mail log:\n" + tail(30));
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    /** The last {@code n} mail-log lines, one a line. */
    public String tail(int n) {
        List<String> l = new ArrayList<>(lines);
        return String.join("\n", l.subList(Math.max(0, l.size() - n), l.size()));
    }

    /** Stops what the harness started (its server, dispatcher, queue). */
    protected abstract void closeParts();

    /**
     * Closes the harness's parts, then what the test handed it; everything is closed even when one
     * fails, and the first failure is thrown with the others added to it.
     */
    @Override
    public final void close() {
        Throwable failure = null;
        try {
            closeParts();
        } catch (RuntimeException | Error e) {
            failure = e;
        }
        while (true) {
            AutoCloseable next;
            synchronized (this) {
                next = owned.poll();
            }
            if (next == null) {
                break;
            }
            try {
                next.close();
            } catch (Exception | Error e) {
                if (failure == null) {
                    failure = e;
                } else {
                    failure.addSuppressed(e);
                }
            }
        }
        if (failure instanceof RuntimeException r) {
            throw r;
        }
        if (failure instanceof Error e) {
            throw e;
        }
        if (failure != null) {
            throw new IllegalStateException(failure);
        }
    }
}
