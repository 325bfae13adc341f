package relaybox.queue.mapdb;

import relaybox.queue.QueueException;

import java.io.IOException;

import static relaybox.queue.mapdb.StorageErrors.storageError;

/**
 * Owns the free-space reserve ({@code queue_min_free_space}) of the queue's file system: MapDB
 * damages its store when the disk fills in the middle of a commit, so below the reserve nothing
 * new is accepted, no zeros are written ahead and no compaction copies.
 */
final class SpaceGuard {

    private final FreeSpace freeSpace;
    private final long minFreeSpace;

    SpaceGuard(Spool spool, long minFreeSpace) {
        this.freeSpace = new FreeSpace(spool::usableSpace, minFreeSpace);
        this.minFreeSpace = minFreeSpace;
    }

    /** Bytes just written, counted against the last reading until the next. */
    void wrote(long bytes) {
        freeSpace.wrote(bytes);
    }

    /** Throws STORAGE_FULL below the reserve. */
    void check() throws QueueException {
        long free;
        try {
            free = freeSpace.free(System.nanoTime());
        } catch (IOException e) {
            throw storageError("cannot read free space of the queue filesystem", e);
        }
        if (free < minFreeSpace) {
            throw new QueueException(QueueException.Kind.STORAGE_FULL, "queue filesystem has " + free
                    + " bytes free, below queue_min_free_space " + minFreeSpace);
        }
    }

    /**
     * Whether the spool may zero {@code bytes} more of its current segment ahead of the appends:
     * only while that leaves more than {@link FreeSpace#MARGIN} above the reserve. Zeros are
     * disk in use, so near the reserve (a small or nearly full disk) none are written, and the
     * free-space guard never counts on them.
     */
    boolean roomForZeros(long bytes) {
        try {
            return freeSpace.free(System.nanoTime()) - bytes >= minFreeSpace + FreeSpace.MARGIN;
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Whether a compaction may copy {@code bytes} and stay above the reserve; counts them if so.
     * {@code freeForTest}: the free bytes to assume, or null for the file system's.
     */
    boolean roomForCopy(long bytes, Long freeForTest) {
        try {
            long f = freeForTest != null ? freeForTest : freeSpace.free(System.nanoTime());
            if (f - bytes < minFreeSpace) {
                return false;
            }
        } catch (IOException e) {
            return false;
        }
        freeSpace.wrote(bytes);
        return true;
    }
}
