"""The lake's Delta tables in the S3 store: where they are, appending with marks, and the
snapshot a reader reads (its version, its exact files).

    s3://<bucket>/<root>raw/          purchases, partitioned by `dt` (the purchase's UTC date)
    s3://<bucket>/<root>quarantine/   refused records, `dt` from their Kafka timestamp

`root` is "" for the pipeline and a scratch prefix for tests and benchmarks. Readers read a
snapshot: Spark the files of `snapshot()`, pyarrow and DuckDB `dataset()`, pandas
`read().to_pandas()`; none lists folders (files a commit did not add, or one removed since,
are not part of the table).
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
from deltalake import (
    CommitProperties, DeltaTable, Field, Schema, convert_to_deltalake, write_deltalake,
)
from deltalake.transaction import AddAction, create_table_with_add_actions

from apps.lake.figures import PERIOD  # the partition column: one period per UTC date
from apps.lake.files import DataFile, now_ms
from apps.lake.marks import COMMIT_KEY, Marks, marks_in_history
from apps.lake.names import QUARANTINE_TABLE, RAW_TABLE, LakeTable  # noqa: F401 (re-exported)
from apps.settings import Settings

# Commits searched for the newest marks, newest first: maintenance commits interleave with
# the stream's (one per period compacted). The long search runs only when the short one
# finds none: a topic incarnation the table holds nothing of yet, or a table just adopted.
HISTORY_SCAN, LONG_HISTORY_SCAN = 100, 5000


def storage_options(settings: Settings) -> dict[str, str]:
    return {
        "AWS_ENDPOINT_URL": settings.s3_endpoint_url,
        "AWS_ACCESS_KEY_ID": settings.s3_access_key,
        "AWS_SECRET_ACCESS_KEY": settings.s3_secret_key.get_secret_value(),
        "AWS_REGION": "us-east-1",
        "AWS_ALLOW_HTTP": "false" if settings.s3_secure else "true",
        "AWS_FORCE_PATH_STYLE": "true",
    }


def open_table(settings: Settings, table: LakeTable) -> DeltaTable | None:
    """The table at its latest version; None while nothing was ever committed to it."""
    uri, options = table.uri(settings), storage_options(settings)
    if not DeltaTable.is_deltatable(uri, storage_options=options):
        return None
    return DeltaTable(uri, storage_options=options)


def with_period(rows: pa.Table, table: LakeTable) -> pa.Table:
    return rows.append_column(PERIOD, pc.strftime(rows[table.period_of], format="%Y-%m-%d"))


def append(settings: Settings, table: LakeTable, rows: pa.Table, marks: Marks) -> None:
    """One commit: the rows, partitioned by period, and the table's marks once they are
    held. It either happens whole or not at all (a conditional PUT of the log entry)."""
    Appender(settings)(table, rows, marks)


class Appender:
    """`append` for a writer that commits again and again (the stream): each table is kept
    open, so a commit reads only the log entries written since its last one, and the
    table's state after the commit (its files, for `figures.table_figures`) is at hand."""

    def __init__(self, settings: Settings):
        self.settings = settings
        self.open: dict[LakeTable, DeltaTable] = {}

    def __call__(self, table: LakeTable, rows: pa.Table, marks: Marks) -> DeltaTable:
        delta = self.open.get(table)
        if delta is not None:
            delta.update_incremental()  # maintenance's commits since: as fresh as a new open
        write_deltalake(delta if delta is not None else table.uri(self.settings),
                        with_period(rows, table), mode="append", partition_by=[PERIOD],
                        schema_mode="merge",
                        storage_options=None if delta is not None
                        else storage_options(self.settings),
                        commit_properties=CommitProperties(
                            custom_metadata={COMMIT_KEY: marks.to_json()}))
        if delta is None:
            delta = self.open[table] = open_table(self.settings, table)
        return delta

    def add_files(self, table: LakeTable, files: list[DataFile], schema: pa.Schema,
                  marks: Marks) -> DeltaTable:
        """One commit of data files already written under the table's folder (by the
        stream's executors, apps/lake/files.py), with the marks they bring the table to."""
        actions = [AddAction(f.path, f.size, {PERIOD: f.period}, now_ms(), True, f.stats())
                   for f in files]
        properties = CommitProperties(custom_metadata={COMMIT_KEY: marks.to_json()})
        full = schema.append(pa.field(PERIOD, pa.string()))
        delta = self.open.get(table) or open_table(self.settings, table)
        if delta is None:
            create_table_with_add_actions(table.uri(self.settings), Schema.from_arrow(full),
                                          actions, mode="append", partition_by=[PERIOD],
                                          storage_options=storage_options(self.settings),
                                          commit_properties=properties)
            delta = open_table(self.settings, table)
        else:
            delta.update_incremental()  # maintenance's commits since: as fresh as a new open
            delta.create_write_transaction(actions, mode="append", schema=full,
                                           partition_by=[PERIOD], commit_properties=properties)
        self.open[table] = delta
        return delta


def committed_marks(settings: Settings, table: LakeTable, topic: str, topic_id: str
                    ) -> Marks:
    """The Kafka records of this incarnation the table holds (none yet: empty marks)."""
    delta = open_table(settings, table)
    found = marks_in_history(delta.history(HISTORY_SCAN), topic, topic_id) if delta else None
    if found is None and delta is not None:
        found = marks_in_history(delta.history(LONG_HISTORY_SCAN), topic, topic_id)
    return found or Marks(topic, topic_id)


@dataclass(frozen=True)
class Snapshot:
    """One version of a table: what a reader reads, and what a result records it read."""

    version: int
    files: list[str]  # s3:// URIs of its data files


def snapshot(settings: Settings, table: LakeTable) -> Snapshot | None:
    delta = open_table(settings, table)
    return None if delta is None else Snapshot(delta.version(), sorted(delta.file_uris()))


def dataset(settings: Settings, table: LakeTable, version: int | None = None):
    """A pyarrow dataset of one version (the latest by default), for pyarrow and DuckDB;
    None while the table does not exist."""
    delta = open_table(settings, table)
    if delta is None:
        return None
    if version is not None:
        delta.load_as_version(version)
    return delta.to_pyarrow_dataset()


def read(settings: Settings, table: LakeTable, version: int | None = None) -> pa.Table | None:
    found = dataset(settings, table, version)
    return None if found is None else found.to_table()


def adopt_plain_parquet(settings: Settings, table: LakeTable) -> bool:
    """Make a folder of plain Parquet files (the lake as it was written before it was a
    Delta table: `dt=YYYY-MM-DD/batch-N.parquet`) the table's first version, so no row
    written before is left behind. True when it did; nothing to do for a Delta table or an
    empty folder."""
    from apps.stack.services.s3 import minio_client

    uri, options = table.uri(settings), storage_options(settings)
    if DeltaTable.is_deltatable(uri, storage_options=options):
        return False
    prefix = f"{table.root}{table.area}/"
    if next(iter(minio_client(settings).list_objects(settings.s3_bucket, prefix,
                                                     recursive=True)), None) is None:
        return False
    convert_to_deltalake(uri, partition_by=Schema([Field(PERIOD, "string")]),
                         partition_strategy="hive", storage_options=options)
    return True
