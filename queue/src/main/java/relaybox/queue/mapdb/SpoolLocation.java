package relaybox.queue.mapdb;

/**
 * Where one message's bytes are: a range of a segment, or a whole file when segment is
 * negative. For a file, {@code offset} holds the file's CRC-32C with bit 32 set (0, in a
 * record written before files had checksums, means "no checksum"), and a segment of
 * {@code -2 - n} says its ACCEPT record is in segment n, which the entry then keeps alive as
 * a small message keeps its own: an index rebuilt from the spool needs that record (-1:
 * written before, not known).
 */
record SpoolLocation(long segment, long offset, long length) {
    static SpoolLocation file(long length) {
        return new SpoolLocation(-1, 0, length);
    }

    static SpoolLocation file(long length, int crc) {
        return new SpoolLocation(-1, (1L << 32) | (crc & 0xffffffffL), length);
    }

    boolean inFile() {
        return segment < 0;
    }

    /** The segment an entry keeps alive: its bytes' for a small message, its record's for a file (or -1). */
    long keeps() {
        return segment >= 0 ? segment : segment <= -2 ? -2 - segment : -1;
    }

    SpoolLocation recordIn(long n) {
        return new SpoolLocation(-2 - n, offset, length);
    }

    /** Whether this file location carries its file's CRC-32C. */
    boolean hasFileCrc() {
        return inFile() && (offset >>> 32) == 1;
    }

    int fileCrc() {
        return (int) offset;
    }
}
