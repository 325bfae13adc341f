package relaybox.queue.mapdb;

import relaybox.queue.Envelope;
import relaybox.queue.QueueEntry;
import relaybox.queue.QueueId;

import java.io.IOException;
import java.time.Instant;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/** Spool states that several tests build by hand, written through the spool's own appends. */
final class SpoolFixtures {

    private SpoolFixtures() {
    }

    /** A message's entry and where its ACCEPT record went. */
    record Placed(QueueEntry entry, SpoolAppended at) { }

    /**
     * One small message's ACCEPT record alone in a full segment: the segment is filled with
     * records that are let go at once until a new segment starts, and the index is told it has
     * them all (so only that one message keeps the segment).
     */
    static Placed onlyRecordOfAFullSegment(Spool spool, byte[] body, String recipient) throws IOException {
        Instant now = Instant.now();
        QueueEntry e = QueueEntry.accepted(QueueId.next(now), Envelope.of("app@example.org", List.of(recipient)), "",
                body.length, now);
        SpoolAppended a = spool.appendRecord(l -> EntryCodec.encode(e, l), body, body.length, null);
        Set<Long> starts = new HashSet<>(Set.of(a.recordStart()));
        byte[] filler = new byte[Spool.SMALL];
        while (true) {
            QueueEntry f = QueueEntry.accepted(QueueId.next(now), e.envelope(), "", filler.length, now);
            SpoolAppended b = spool.appendRecord(l -> EntryCodec.encode(f, l), filler, filler.length, null);
            if (b.segment() != a.segment()) {
                break;
            }
            starts.add(b.recordStart());
            spool.release(f.id(), b.location());
        }
        spool.indexed(a.segment(), starts);
        return new Placed(e, a);
    }
}
