"""The purchase lake: Delta Lake tables in the S3 store, committed by delta-rs only.

    tables       where the tables are, appending rows with the Kafka offsets they cover,
                 reading a snapshot (its version and exact files)
    marks        which Kafka offsets a table already holds (pure): a replayed or
                 re-read batch writes only the rows above them
    maintenance  compaction of a table's periods into large files, then vacuum of the
                 files no snapshot needs after a grace period

Why Delta, and why only delta-rs commits: docs/purchase-stream.md. Every commit is a
conditional PUT (`If-None-Match: *`) of the next log entry, which SeaweedFS (and S3)
decide atomically: the stream and maintenance commit side by side, and a reader of any
version sees each row once.
"""
