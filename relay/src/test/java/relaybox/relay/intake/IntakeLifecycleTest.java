package relaybox.relay.intake;

import org.apache.james.protocols.api.handler.ProtocolHandler;
import org.apache.james.protocols.smtp.core.DataLineMessageHookHandler;
import org.apache.james.protocols.smtp.core.MailCmdHandler;
import org.apache.james.protocols.smtp.core.PostmasterAbuseRcptHook;
import org.apache.james.protocols.smtp.core.RcptCmdHandler;
import org.apache.james.protocols.smtp.core.ReceivedDataLineFilter;
import org.apache.james.protocols.smtp.core.esmtp.MailSizeEsmtpExtension;
import org.junit.jupiter.api.Test;
import relaybox.queue.QueueEntry;
import relaybox.queue.memory.InMemoryQueue;

import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The wiring of the James chain, threads (blocking accept off the I/O threads) and shutdown. */
class IntakeLifecycleTest {

    @Test
    void chainHasOurHandlersAndNoneOfTheUnsafeJamesDefaults() throws Exception {
        try (IntakeHarness h = new IntakeHarness(new InMemoryQueue(), "")) {
            List<ProtocolHandler> handlers = h.server.handlers();
            for (ProtocolHandler p : handlers) {
                assertTrue(!(p instanceof MailCmdHandler) && !(p instanceof RcptCmdHandler)
                        && !(p instanceof MailSizeEsmtpExtension) && !(p instanceof ReceivedDataLineFilter)
                        && !(p instanceof DataLineMessageHookHandler) && !(p instanceof PostmasterAbuseRcptHook),
                        "unsafe James default still wired: " + p.getClass().getName());
            }
            Set<Class<?>> classes = handlers.stream().map(Object::getClass).collect(Collectors.toSet());
            assertTrue(classes.containsAll(Set.of(MailCommand.class, RcptCommand.class, DataCommand.class,
                    EsmtpExtensions.class)), classes.toString());
            // And a message over a real socket reaches the queue through that chain.
            try (RawSmtp c = h.connect()) {
                c.cmd("EHLO a");
                c.cmd("MAIL FROM:<a@b.example>");
                c.cmd("RCPT TO:<c@d.example>");
                c.cmd("DATA");
                assertTrue(c.cmd("Subject: wired\r\n\r\nx\r\n.").startsWith("250 2.0.0 Ok: queued as "));
            }
            assertEquals(1, h.queue.list().size());
        }
    }

    @Test
    void listensOnIpv6LoopbackWhenTheHostHasIt() throws Exception {
        boolean v6;
        try (java.net.ServerSocket probe = new java.net.ServerSocket()) {
            probe.bind(new java.net.InetSocketAddress("::1", 0));
            v6 = true;
        } catch (java.io.IOException e) {
            v6 = false;
        }
        org.junit.jupiter.api.Assumptions.assumeTrue(v6, "no IPv6 loopback here");
        try (IntakeHarness h = new IntakeHarness(new InMemoryQueue(), "", "[::1]")) {
            assertEquals("0:0:0:0:0:0:0:1", h.address().getAddress().getHostAddress());
            try (RawSmtp c = h.connect()) {
                c.cmd("EHLO v6");
                assertEquals("250 2.1.0 Ok", c.cmd("MAIL FROM:<a@b.example>"));
                assertEquals("250 2.1.5 Ok", c.cmd("RCPT TO:<c@d.example>"), "::1 is in the default networks");
            }
        }
    }

    @Test
    void aSessionWaitingForTheQueueDoesNotStallOtherSessions() throws Exception {
        ControllableQueue queue = new ControllableQueue();
        CountDownLatch release = new CountDownLatch(1);
        CountDownLatch blocked = new CountDownLatch(1);
        java.util.concurrent.atomic.AtomicBoolean first = new java.util.concurrent.atomic.AtomicBoolean(true);
        queue.beforeAccept = in -> {
            if (first.getAndSet(false)) {
                blocked.countDown();
                try {
                    release.await(20, TimeUnit.SECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        };
        try (IntakeHarness h = new IntakeHarness(queue, "")) {
            ExecutorService pool = Executors.newCachedThreadPool();
            Future<String> slow = pool.submit(() -> oneMessage(h));
            assertTrue(blocked.await(10, TimeUnit.SECONDS));
            // Some of these share the blocked session's event loop (one per core); each must still
            // get through a whole transaction while the first one waits for the queue.
            for (int i = 0; i < 6; i++) {
                String r = pool.submit(() -> oneMessage(h)).get(10, TimeUnit.SECONDS);
                assertTrue(r.startsWith("250 2.0.0"), r);
            }
            release.countDown();
            assertTrue(slow.get(10, TimeUnit.SECONDS).startsWith("250 2.0.0"));
            pool.shutdownNow();
        }
    }

    @Test
    void hundredSessionsCanBeInsideAcceptAtOnce() throws Exception {
        int n = 100;
        ControllableQueue queue = new ControllableQueue();
        CountDownLatch allInside = new CountDownLatch(n);
        queue.beforeAccept = in -> {
            allInside.countDown();
            try {
                // A group commit: nobody leaves until all n are inside (or the test fails by timeout).
                if (!allInside.await(20, TimeUnit.SECONDS)) {
                    throw new IllegalStateException("only " + (n - allInside.getCount()) + " inside at once");
                }
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        };
        try (IntakeHarness h = new IntakeHarness(queue, "")) {
            ExecutorService pool = Executors.newFixedThreadPool(n);
            List<Future<String>> replies = new ArrayList<>();
            for (int i = 0; i < n; i++) {
                replies.add(pool.submit(() -> oneMessage(h)));
            }
            for (Future<String> f : replies) {
                String r = f.get(60, TimeUnit.SECONDS);
                assertTrue(r.startsWith("250 2.0.0"), r);
            }
            pool.shutdownNow();
            assertEquals(n, queue.list().size());
        }
    }

    static String oneMessage(IntakeHarness h) throws Exception {
        try (RawSmtp c = h.connect()) {
            c.send("EHLO a\r\nMAIL FROM:<a@b.example>\r\nRCPT TO:<c@d.example>\r\nDATA\r\n");
            for (int i = 0; i < 4; i++) {
                c.reply();
            }
            return c.cmd("Subject: x\r\n\r\nx\r\n.");
        }
    }

    /** README "Deliveries before intake": with the packaged JVM options this is nice 10. */
    @Test
    void theIntakeThreadsRunAtTheLowestPriority() throws Exception {
        try (IntakeHarness h = new IntakeHarness(new InMemoryQueue(), "")) {
            assertTrue(oneMessage(h).startsWith("250"));
            List<Thread> io = Thread.getAllStackTraces().keySet().stream()
                    .filter(t -> t.isAlive() && t.getName().startsWith("intake-io")).collect(Collectors.toList());
            assertTrue(!io.isEmpty(), "no intake-io thread after a message");
            for (Thread t : io) {
                assertEquals(Thread.MIN_PRIORITY, t.getPriority(), t.getName());
            }
        }
    }

    @Test
    void stopLeavesNoIntakeThreadsAndNoNewNonDaemonThreads() throws Exception {
        Set<Thread> before = Thread.getAllStackTraces().keySet();
        IntakeHarness h = new IntakeHarness(new InMemoryQueue(), "");
        String r = oneMessage(h);
        assertTrue(r.startsWith("250"), r);
        RawSmtp idle = h.connect();
        h.close();
        String bye = idle.reply();
        assertTrue(bye != null && bye.startsWith("421 4.3.2"), bye);
        assertTrue(idle.closedByServer(), "open connections are closed at stop");
        Awaits.until(() -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && t.getName().startsWith("intake-")), "intake threads ended");
        // Netty's globalEventExecutor thread (non-daemon) notifies the groups' termination and ends
        // by itself after one idle second, so this waits for "none left" rather than asserting at once.
        Awaits.until(() -> Thread.getAllStackTraces().keySet().stream()
                .noneMatch(t -> t.isAlive() && !t.isDaemon() && !before.contains(t)),
                "no non-daemon threads left after stop; left: " + Thread.getAllStackTraces().keySet().stream()
                        .filter(t -> t.isAlive() && !t.isDaemon() && !before.contains(t))
                        .map(Thread::getName).collect(Collectors.toList()));
    }

    @Test
    void stopLetsAnOpenTransactionFinish() throws Exception {
        IntakeHarness h = new IntakeHarness(new InMemoryQueue(), "");
        RawSmtp c = h.connect();
        c.cmd("EHLO a");
        c.cmd("MAIL FROM:<a@b.example>");
        c.cmd("RCPT TO:<c@d.example>");
        assertTrue(c.cmd("DATA").startsWith("354"));
        assertEquals(1, h.server.openTransactions());
        RawSmtp other = h.connect();
        other.cmd("EHLO b");
        Thread stopper = new Thread(h.server::stop);
        stopper.start();
        Awaits.until(() -> h.server.boundAddresses().isEmpty(), "listeners closed");
        // While the first transaction is open the daemon waits; new transactions are refused.
        String refused = other.cmd("MAIL FROM:<a@b.example>");
        assertTrue(refused.startsWith("421 4.3.2"), refused);
        String r = c.cmd("Subject: late\r\n\r\nx\r\n.");
        assertTrue(r.startsWith("250 2.0.0"), r);
        stopper.join(10_000);
        List<QueueEntry> all = h.queue.list();
        assertEquals(1, all.size());
        h.queue.close();
    }
}
