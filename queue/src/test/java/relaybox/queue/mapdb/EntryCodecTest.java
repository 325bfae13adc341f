package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;
import relaybox.queue.DeliveryOutcome;
import relaybox.queue.EntryState;
import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;
import relaybox.queue.RetrySchedule;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EntryCodecTest {

    static final Instant T = Instant.parse("2026-11-22T10:00:00Z");

    /** The entry stored in the checked-in v1 fixture; its bytes must keep decoding forever. */
    static QueueEntry fixtureEntry() {
        Envelope env = new Envelope("app@corp.example", List.of("a@x.example", "björn@ü.example"), true, true,
                "127.0.0.1", "app1", "");
        QueueEntry e = QueueEntry.accepted(new QueueId("0C1V2X3Y4Z56"), env, "Received: from app1\r\n", 4242, T);
        return e.leased().withOutcome(Map.of(
                "a@x.example", new DeliveryOutcome.Delivered("250 2.0.0 Ok: queued as 9A1B"),
                "björn@ü.example", new DeliveryOutcome.Deferred("451 4.7.1 Try again later")),
                RetrySchedule.DEFAULT, T.plusSeconds(5), 0.5);
    }

    @Test
    void everyStateRoundTrips() throws Exception {
        QueueEntry base = fixtureEntry();
        for (EntryState s : EntryState.values()) {
            QueueEntry e = new QueueEntry(base.id(), s, base.envelope(), base.recipients(), base.addedHeaders(),
                    base.messageSize(), base.queuedAt(), base.lifeStart(), base.nextAttemptAt(), base.attempts(),
                    base.lastReply(), EntryState.DEFERRED);
            assertEquals(e, EntryCodec.decode(EntryCodec.encode(e)));
        }
    }

    @Test
    void checkedInVersion1RecordStillDecodes() throws Exception {
        byte[] fixture;
        try (InputStream in = getClass().getResourceAsStream("/entry-v1.hex")) {
            fixture = HexFormat.of().parseHex(new String(in.readAllBytes(), StandardCharsets.US_ASCII).strip());
        }
        assertEquals(fixtureEntry(), EntryCodec.decode(fixture));
    }

    @Test
    void damagedRecordsDoNotDecode() {
        byte[] good = EntryCodec.encode(fixtureEntry());
        byte[] v9 = good.clone();
        v9[0] = 9;
        assertMessage("unknown format version 9", v9);
        assertMessage("record truncated", Arrays.copyOf(good, good.length - 3));
        assertMessage("2 trailing bytes", Arrays.copyOf(good, good.length + 2));
        assertMessage("empty record", new byte[0]);
        byte[] badState = new String(good, StandardCharsets.ISO_8859_1).replace("DEFERRED", "DEFERXED")
                .getBytes(StandardCharsets.ISO_8859_1);
        assertMessage("invalid record", badState);
    }

    @Test
    void textFormShowsEveryRecipientWithItsReply() {
        String text = EntryCodec.toText(fixtureEntry());
        assertTrue(text.contains("state: deferred\n"), text);
        assertTrue(text.contains("to: <a@x.example> delivered attempts=1 reply=\"250 2.0.0 Ok: queued as 9A1B\"\n"), text);
        assertTrue(text.contains("to: <björn@ü.example> pending attempts=1 reply=\"451 4.7.1 Try again later\"\n"), text);
    }

    private static void assertMessage(String expected, byte[] record) {
        EntryCodec.DecodeException e = assertThrows(EntryCodec.DecodeException.class, () -> EntryCodec.decode(record));
        assertTrue(e.getMessage().startsWith(expected), e.getMessage());
    }

    /** Writes the fixture; run once when a new format version is introduced, never to "fix" a test. */
    public static void main(String[] args) throws IOException {
        System.out.println(HexFormat.of().formatHex(EntryCodec.encode(fixtureEntry())));
    }
}
