package relaybox.relay.forward;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Pauses survive a restart: the file round-trips, replaces whole, and skips what it cannot read. */
class PauseFileTest {

    @TempDir
    Path dir;

    @Test
    void roundTripsEveryKindOfPause() throws Exception {
        PauseFile f = new PauseFile(dir.resolve(PauseFile.NAME));
        Instant now = Instant.parse("2026-12-05T10:00:00Z");
        Map<String, Pause> pauses = Map.of(
                "google", new Pause(Pause.Cause.QUOTA, now, now.plusSeconds(3600),
                        "550 5.4.5 Daily SMTP relay limit exceeded\tfor user \\ \"x\"\r\nsecond line"),
                "ms365", new Pause(Pause.Cause.OPERATOR, now, null, "paused by uid 0"),
                "ses", new Pause(Pause.Cause.THROTTLED, now, now.plusSeconds(60), "550 5.2.251 Sender throttled"));
        f.save(pauses);
        assertEquals(pauses, f.load());
        f.save(Map.of("ses", pauses.get("ses")));
        assertEquals(Map.of("ses", pauses.get("ses")), f.load(), "the file is replaced, not appended to");
        try (var files = Files.list(dir)) {
            assertEquals(1, files.count(), "no temporary file left behind");
        }
    }

    @Test
    void aMissingFileIsNoPauseAndABadLineIsSkipped() throws Exception {
        Path p = dir.resolve(PauseFile.NAME);
        assertTrue(new PauseFile(p).load().isEmpty());
        Files.writeString(p, "# comment\ngoogle\tquota\tnot-a-time\t-\tx\nms365\toperator\t2026-12-05T10:00:00Z\t-\tby uid 0\n"
                + "ses\tsomething\t2026-12-05T10:00:00Z\t-\tx\n");
        Map<String, Pause> got = new PauseFile(p).load();
        assertEquals(1, got.size(), got.toString());
        assertFalse(got.containsKey("google"));
        assertEquals(Pause.Cause.OPERATOR, got.get("ms365").cause());
    }
}
