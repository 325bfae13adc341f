package relaybox.relay;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.ByteArrayOutputStream;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** An unknown upstream preset stops the daemon with 78 (EX_CONFIG), naming the known ones. */
class DaemonPresetTest {

    @TempDir
    Path dir;

    @Test
    void anUnknownPresetExits78() throws Exception {
        Path f = Files.writeString(dir.resolve("relaybox.conf"), "queue_dir = \"" + dir.resolve("q") + "\"\n"
                + "[[upstream]]\nname = \"ms\"\npreset = \"office365\"\n");
        ByteArrayOutputStream err = new ByteArrayOutputStream();
        int rc = DaemonTest.runCapturingStderr(err, "run", "--config", f.toString());
        assertEquals(RelayDaemon.EX_CONFIG, rc, err.toString());
        assertTrue(err.toString().contains("upstream[0].preset: unknown preset; expected one of ses, sendgrid,"
                + " mailgun, postmark, microsoft365, gmail, google-relay (got \"office365\")"), err.toString());
        assertTrue(Files.notExists(dir.resolve("q")), "nothing started");
    }
}
