"""Data files of a lake table, written where the rows are (a Spark executor) and committed
elsewhere (the driver, apps/lake/tables.py `Appender.add_files`): a file not yet in a
commit is in no version of the table, so no reader ever sees it.

Nothing here imports Spark or delta-rs: an executor's Python worker needs pyarrow only.
"""

from __future__ import annotations

import json
import time
import uuid
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from apps.lake.figures import PERIOD
from apps.lake.names import LakeTable

# A file's outcome, as an executor hands it back to the driver (one small row per file).
DATA_FILE = pa.schema([("area", pa.string()), ("path", pa.string()), ("size", pa.int64()),
                       ("period", pa.string()), ("records", pa.int64())])


@dataclass(frozen=True)
class DataFile:
    area: str  # the table's
    path: str  # relative to the table's folder: `dt=2026-12-02/part-<uuid>.parquet`
    size: int
    period: str
    records: int

    def stats(self) -> str:
        return json.dumps({"numRecords": self.records})


@dataclass(frozen=True)
class S3Store:
    """How an executor reaches the S3 store: picklable, so it travels with the task (the
    keys too, as Spark's own Hadoop configuration does), over the cluster's own links."""

    endpoint_host: str
    secure: bool
    access_key: str = field(repr=False)
    secret_key: str = field(repr=False)  # never in a log line or a traceback
    bucket: str = ""

    def filesystem(self) -> pafs.FileSystem:
        return pafs.S3FileSystem(access_key=self.access_key, secret_key=self.secret_key,
                                 endpoint_override=self.endpoint_host, region="us-east-1",
                                 scheme="https" if self.secure else "http")

    def folder(self, table: LakeTable) -> str:
        return f"{self.bucket}/{table.root}{table.area}"

    def make_folder(self, fs: pafs.FileSystem, path: str) -> None:
        pass  # a key needs no folder (pyarrow would write an empty marker object)


@dataclass(frozen=True)
class LocalStore:
    """A folder standing in for the bucket (unit tests)."""

    root: str

    def filesystem(self) -> pafs.FileSystem:
        return pafs.LocalFileSystem()

    def folder(self, table: LakeTable) -> str:
        return f"{self.root}/{table.root}{table.area}"

    def make_folder(self, fs: pafs.FileSystem, path: str) -> None:
        fs.create_dir(path)


def periods(rows: pa.Table, table: LakeTable) -> pa.Array:
    return pc.strftime(rows[table.period_of], format="%Y-%m-%d")


def write_files(store: S3Store | LocalStore, table: LakeTable, rows: pa.Table) -> list[DataFile]:
    """`rows` as one new Parquet file per period (the partition column lives in the path,
    as Delta keeps it), under names no other writer or attempt uses."""
    if not rows.num_rows:
        return []
    fs, folder, written = store.filesystem(), store.folder(table), []
    of_row = periods(rows, table)
    for period in pc.unique(of_row).to_pylist():
        part = rows.filter(pc.equal(of_row, period))
        path = f"{PERIOD}={period}/part-{uuid.uuid4().hex}.parquet"
        store.make_folder(fs, f"{folder}/{PERIOD}={period}")
        with fs.open_output_stream(f"{folder}/{path}") as out:
            pq.write_table(part, out, compression="snappy")
        size = fs.get_file_info(f"{folder}/{path}").size
        written.append(DataFile(table.area, path, size, period, part.num_rows))
    return written


def from_table(outcomes: pa.Table) -> list[DataFile]:
    return [DataFile(**row) for row in outcomes.select(DATA_FILE.names).to_pylist()]


def now_ms() -> int:
    return int(time.time() * 1000)
