"""The purchase lake: Delta Lake tables in the S3 store, committed by delta-rs only.

    tables       where the tables are, appending rows with the Kafka offsets they cover,
                 reading a snapshot (its version and exact files)
    marks        which Kafka offsets a table already holds (pure): a replayed or
                 re-read batch writes only the rows above them
    maintenance  compaction of a table's periods into large files, then vacuum of the
                 files no snapshot needs after a grace period
    lease        one maintenance run per table at a time
    figures      a table's version, live files and bytes, oldest uncompacted period (pure)
    runs         where the stream and maintenance record those figures for `invoke status`
    scheduled    the maintenance as the Airflow DAG runs it, in the project's venv

Why Delta, and why only delta-rs commits: docs/purchase-stream.md. Every commit is a
conditional PUT (`If-None-Match: *`) of the next log entry, which SeaweedFS (and S3)
decide atomically: the stream and maintenance commit side by side, and a reader of any
version sees each row once.
"""
