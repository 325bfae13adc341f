package relaybox.relay.forward;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.io.ByteArrayInputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Instant;
import java.util.List;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The outbox in a directory someone else can write to: symlinks planted at the names it writes
 * never redirect a write, and what it writes is 0600.
 */
class OutboxWriteTest {

    @TempDir
    Path tmp;

    @Test
    void plantedSymlinksAreNeverWrittenThrough() throws Exception {
        Path dir = Files.createDirectory(tmp.resolve("outbox"));
        Path victim = Files.writeString(tmp.resolve("victim"), "precious");
        QueueId id = QueueId.next(Instant.now());
        // The names an attacker can predict: the temporary file of old and the .eml itself.
        Files.createSymbolicLink(dir.resolve("." + id + ".tmp"), victim);
        Files.createSymbolicLink(dir.resolve(id + ".eml"), victim);
        QueueEntry e = QueueEntry.accepted(id, Envelope.of("app@corp.example", List.of("a@x.example")), "", 5,
                Instant.now()).leased();
        byte[] msg = "Subject: x\r\n\r\nhello\r\n".getBytes(StandardCharsets.US_ASCII);

        Attempt a = new OutboxSession(dir, List.of()).send(e, () -> new ByteArrayInputStream(msg));

        assertInstanceOf(DeliveryOutcome.Delivered.class, a.outcomes().get("a@x.example").toQueue(), a.toString());
        assertEquals("precious", Files.readString(victim), "the symlinks' target was written through");
        Path eml = dir.resolve(id + ".eml");
        assertFalse(Files.isSymbolicLink(eml), "the rename replaced the planted .eml link itself");
        assertTrue(Files.readString(eml).endsWith("hello\r\n"));
        assertEquals("rw-------", PosixFilePermissions.toString(Files.getPosixFilePermissions(eml)));
        try (Stream<Path> files = Files.list(dir)) {
            assertEquals(2, files.count(), "the .eml and the planted .tmp link, no temporary file of ours");
        }
    }

    @Test
    void aNewOutboxDirectoryIsPrivate() throws Exception {
        Path dir = tmp.resolve("new-outbox");
        new OutboxSession(dir, List.of());
        assertEquals("rwx------", PosixFilePermissions.toString(Files.getPosixFilePermissions(dir)));
    }
}
