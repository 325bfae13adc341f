package relaybox.queue.mapdb;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;

/** Owns listing a spool segment's ACCEPT records (for tests) and the record type compaction lists them in: where each starts and ends, and its entry bytes. */
final class AcceptRecords {

    /** One ACCEPT record. */
    record Scanned(long start, long end, byte[] entry) { }

    private AcceptRecords() {
    }

    /** The ACCEPT records of segment {@code n} from {@code from} on. */
    static List<Scanned> of(Spool spool, long n, long from) throws IOException {
        List<Scanned> out = new ArrayList<>();
        spool.scan(n, from, new SegmentScanner.Visitor() {
            @Override
            public void record(SpoolRecord.Kind kind, long start, long end, byte[] payload) {
                if (kind == SpoolRecord.Kind.ACCEPT) {
                    out.add(new Scanned(start, end, SpoolRecord.inner(payload)));
                }
            }

            @Override
            public void damaged(long start, long end) {
            }
        });
        return out;
    }
}
