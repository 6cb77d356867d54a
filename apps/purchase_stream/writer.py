"""Each micro-batch, once: validated rows -> one Parquet object per (area, date), one PUT each.

Why not Spark's file sink: its part files land in the final folders as tasks finish, and
only Spark's own reader consults `_spark_metadata/` to ignore the files of a batch a crash
cut short; pyarrow or DuckDB listing `raw/` would read them, then read the replay's again.

Exactly once for every reader, instead:
1. Spark's offset log fixes a batch's Kafka offsets before the batch runs; a batch replayed
   after a crash has the same id and reads the same records.
2. The batch is collected once, as Arrow, on the driver (the single pass: Kafka is read
   once, the contract validates each record once on the executors), sorted by Kafka
   coordinates and split into valid and quarantined rows.
3. Each (area, date) of the batch becomes one object whose key is derived from the batch id
   and the date only (`layout.object_key`), written by one PUT: the S3 store shows a reader
   all of it or nothing. A replay overwrites the same keys with the same rows, so no reader
   ever sees a record twice, whatever moment the crash hit. (Nothing random or
   order-dependent enters a key or a split: no task ids, no row counts, no clock. Only a
   change of the contract between the crash and the replay could move a record between
   raw and quarantine; deploy such a change while the job is stopped cleanly.)
4. Spark commits the batch only after every PUT returned.

What scales and what does not: the batch passes through the driver, so `maxOffsetsPerTrigger`
bounds its size (and the driver's memory); writing is one PUT per object from one process.
That fits one machine's purchase rate with a wide margin (see docs/purchase-stream.md); a
cluster-sized stream would write from the executors, one object per Kafka partition per
batch, keyed by (batch id, Kafka partition), which keeps the same guarantee.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from apps.purchase_stream.layout import (
    QUARANTINE,
    QUARANTINE_ARROW,
    RAW,
    RAW_ARROW,
    REASON,
    VALIDATED_ARROW,
    object_key,
)

KAFKA_ORDER = [("kafka_partition", "ascending"), ("kafka_offset", "ascending")]


@dataclass(frozen=True)
class LakeObject:
    key: str
    table: pa.Table


def split(validated: pa.Table) -> tuple[pa.Table, pa.Table]:
    """(valid rows in the raw layout, quarantined rows), each in Kafka order."""
    if validated.schema != VALIDATED_ARROW:
        raise ValueError(f"expected the validated schema, got:\n{validated.schema}")
    ordered = validated.sort_by(KAFKA_ORDER)
    bad = pc.is_valid(ordered[REASON])
    raw = ordered.filter(pc.invert(bad)).select(RAW_ARROW.names).cast(RAW_ARROW)
    quarantine = ordered.filter(bad).select(QUARANTINE_ARROW.names).cast(QUARANTINE_ARROW)
    return raw, quarantine


def by_day(table: pa.Table, timestamp_column: str) -> dict[str, pa.Table]:
    """The table's rows grouped by the UTC date of a timestamp column, `YYYY-MM-DD`."""
    days = pc.strftime(table[timestamp_column], format="%Y-%m-%d")
    return {day: table.filter(pc.equal(days, day)) for day in sorted(set(days.to_pylist()))}


def batch_objects(validated: pa.Table, root: str, batch_id: int) -> list[LakeObject]:
    """Every object a batch writes: one per date of its purchases, one per date of its
    quarantined records (by Kafka timestamp)."""
    raw, quarantine = split(validated)
    return [
        *(LakeObject(object_key(root, RAW, day, batch_id), rows)
          for day, rows in by_day(raw, "TimeStamp").items()),
        *(LakeObject(object_key(root, QUARANTINE, day, batch_id), rows)
          for day, rows in by_day(quarantine, "kafka_timestamp").items()),
    ]


def parquet_bytes(table: pa.Table) -> bytes:
    buffer = io.BytesIO()
    pq.write_table(table, buffer, compression="zstd")
    return buffer.getvalue()


Put = Callable[[str, bytes], None]  # key, object bytes: one PUT


class BatchWriter:
    """The `foreachBatch` function: `(batch DataFrame, batch id)` -> objects in the store."""

    def __init__(self, put: Put, root: str):
        self.put = put
        self.root = root

    def __call__(self, batch, batch_id: int) -> None:
        validated = batch.toArrow()  # the one pass over the batch
        for obj in batch_objects(validated, self.root, batch_id):
            self.put(obj.key, parquet_bytes(obj.table))
