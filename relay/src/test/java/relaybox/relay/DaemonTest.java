package relaybox.relay;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The daemon's command line: usage and configuration errors (in process, no start). */
class DaemonTest {

    @TempDir
    Path dir;

    /** Runs the daemon's command line in this JVM with its stderr caught in {@code err}; its exit code. */
    static int runCapturingStderr(ByteArrayOutputStream err, String... args) {
        PrintStream old = System.err;
        System.setErr(new PrintStream(err, true));
        try {
            return RelayDaemon.run(args);
        } finally {
            System.setErr(old);
        }
    }

    @Test
    void badConfigurationExits78NamingTheKey() throws Exception {
        Path f = dir.resolve("bad.conf");
        Files.writeString(f, "intake_listen = [\"127.0.0.1:99999\"]\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(RelayDaemon.EX_CONFIG, runCapturingStderr(err, "run", "--config", f.toString()));
        assertTrue(err.toString().contains("intake_listen"), err.toString());
    }

    @Test
    void unknownKeyExits78() throws Exception {
        Path f = dir.resolve("typo.conf");
        Files.writeString(f, "intake_lissen = [\"127.0.0.1:25\"]\n\n[[upstream]]\ntype = \"outbox\"\ndir = \""
                + dir.resolve("outbox") + "\"\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        assertEquals(RelayDaemon.EX_CONFIG, runCapturingStderr(err, "run", "--config", f.toString()));
        assertTrue(err.toString().contains("intake_lissen: unknown key"), err.toString());
    }

    @Test
    void usage() {
        assertEquals(RelayDaemon.EX_USAGE, runCapturingStderr(new ByteArrayOutputStream(), "start"));
    }
}
