"""Each micro-batch, once: validated rows -> a commit to the quarantine table, then one to
the raw table (Delta tables, apps/lake/).

Why not Spark's file sink: its part files land in the final folders as tasks finish, and
only Spark's own reader consults `_spark_metadata/`; pyarrow or DuckDB listing the folder
would read the files of a batch a crash cut short, then the replay's again.

Exactly once for every reader, instead:
1. The batch is collected once, as Arrow, on the driver (Kafka is read once, the contract
   validates each record once on the executors), sorted by Kafka coordinates and split
   into valid and quarantined rows, each carrying the topic's id.
2. Each table has marks: per partition, the first offset it does not hold (apps/lake/
   marks.py). A batch writes only the rows above them, and its commit records the new
   marks with the rows, in one atomic commit (a conditional PUT of the log entry). The raw
   table's marks cover every record of the batch, quarantined ones too: the quarantine
   commit goes first, so whatever is below the raw marks is in one table or the other.
3. A batch replayed after a crash, or read again by a stream started without a checkpoint
   (it starts at the raw marks), writes nothing that is already there; nothing already in
   the lake is overwritten or shadowed, and no reader sees a record twice.
4. Spark commits the batch to its checkpoint only after both commits returned.

What scales and what does not: the batch passes through the driver, so
`maxOffsetsPerTrigger` bounds its size (and the driver's memory).
"""

from __future__ import annotations

from collections.abc import Callable

import pyarrow as pa
import pyarrow.compute as pc

from apps.lake.marks import Marks, unwritten
from apps.lake.tables import QUARANTINE_TABLE, RAW_TABLE, LakeTable
from apps.purchase_stream.layout import (
    QUARANTINE_ARROW,
    RAW_ARROW,
    REASON,
    TOPIC_ID,
    VALIDATED_ARROW,
)

KAFKA_ORDER = [("kafka_partition", "ascending"), ("kafka_offset", "ascending")]


def split(validated: pa.Table, topic_id: str) -> tuple[pa.Table, pa.Table]:
    """(valid rows in the raw layout, quarantined rows), each in Kafka order."""
    if validated.schema != VALIDATED_ARROW:
        raise ValueError(f"expected the validated schema, got:\n{validated.schema}")
    ordered = validated.sort_by(KAFKA_ORDER)
    ordered = ordered.append_column(TOPIC_ID.name,
                                    pa.array([topic_id] * ordered.num_rows, pa.string()))
    bad = pc.is_valid(ordered[REASON])
    raw = ordered.filter(pc.invert(bad)).select(RAW_ARROW.names).cast(RAW_ARROW)
    quarantine = ordered.filter(bad).select(QUARANTINE_ARROW.names).cast(QUARANTINE_ARROW)
    return raw, quarantine


Commit = Callable[[LakeTable, pa.Table, Marks], None]  # one atomic append with its marks


class BatchWriter:
    """The `foreachBatch` function: `(batch DataFrame, batch id)` -> lake commits."""

    def __init__(self, commit: Commit, root: str, marks: dict[str, Marks], topic_id: str):
        self.commit = commit
        self.raw, self.quarantine = RAW_TABLE.under(root), QUARANTINE_TABLE.under(root)
        self.marks = marks  # by table area, as committed in the lake (read at start)
        self.topic_id = topic_id

    def __call__(self, batch, batch_id: int) -> None:
        self.write(batch.toArrow())  # the one pass over the batch

    def write(self, validated: pa.Table) -> None:
        raw, quarantine = split(validated, self.topic_id)
        self._append(self.quarantine, quarantine, quarantine)
        self._append(self.raw, raw, validated)

    def _append(self, table: LakeTable, rows: pa.Table, covered: pa.Table) -> None:
        held = self.marks[table.area]
        new = unwritten(rows, held)
        if not new.num_rows:
            return
        marks = held.after(covered)
        self.commit(table, new, marks)
        self.marks[table.area] = marks
