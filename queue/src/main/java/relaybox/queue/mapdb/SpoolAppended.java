package relaybox.queue.mapdb;

/** Where an appended record landed, and where its message bytes are (null for journal records). */
record SpoolAppended(long segment, long recordStart, SpoolLocation location) { }
