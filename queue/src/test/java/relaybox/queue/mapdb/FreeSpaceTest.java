package relaybox.queue.mapdb;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

class FreeSpaceTest {

    private static final long GIB = 1L << 30;

    /** A filesystem whose free space the test sets, counting how often it is asked. */
    private static final class Disk implements FreeSpace.Source {
        long free;
        int reads;

        @Override
        public long usableSpace() {
            reads++;
            return free;
        }
    }

    @Test
    void farFromTheReserveAReadingIsReusedWithWritesSubtracted() throws Exception {
        Disk d = new Disk();
        d.free = 10 * GIB;
        FreeSpace f = new FreeSpace(d, GIB);
        assertEquals(10 * GIB, f.free(0));
        f.wrote(4096);
        assertEquals(10 * GIB - 4096, f.free(1_000_000));
        assertEquals(1, d.reads);
    }

    @Test
    void anOldReadingIsReadAgain() throws Exception {
        Disk d = new Disk();
        d.free = 10 * GIB;
        FreeSpace f = new FreeSpace(d, GIB);
        f.free(0);
        d.free = 5 * GIB;
        assertEquals(5 * GIB, f.free(FreeSpace.MAX_AGE_NANOS + 1));
        assertEquals(2, d.reads);
    }

    @Test
    void nearTheReserveEveryCheckIsAFreshReading() throws Exception {
        Disk d = new Disk();
        d.free = GIB + FreeSpace.MARGIN - 1;
        FreeSpace f = new FreeSpace(d, GIB);
        f.free(0);
        d.free = GIB - 1;
        assertEquals(GIB - 1, f.free(1));
        d.free = 3 * GIB;
        assertEquals(3 * GIB, f.free(2), "space that came back is seen at once");
        assertEquals(3, d.reads);
    }

    @Test
    void writesThatBringTheEstimateNearTheReserveForceAReading() throws Exception {
        Disk d = new Disk();
        d.free = GIB + 2 * FreeSpace.MARGIN;
        FreeSpace f = new FreeSpace(d, GIB);
        f.free(0);
        f.wrote(FreeSpace.MARGIN + 1);
        d.free = GIB - 5;
        assertEquals(GIB - 5, f.free(1));
        assertEquals(2, d.reads);
    }
}
