"""Each micro-batch, once: validated rows -> a commit to the quarantine table, then one to
the raw table (Delta tables, apps/lake/).

Why not Spark's file sink: its part files land in the final folders as tasks finish, and
only Spark's own reader consults `_spark_metadata/`; pyarrow or DuckDB listing the folder
would read the files of a batch a crash cut short, then the replay's again.

Exactly once for every reader, instead:
1. The executors write (`PartWriter`, one task per `writer_tasks` slice of the batch): the
   contract validates each record, the rows are sorted by Kafka coordinates and split
   into valid and quarantined rows, each carrying the topic's id, and written as new
   Parquet files that no version of a table lists yet. A task hands back one small row
   per file, and per Kafka partition the end of the records it covered. The batch's rows
   never pass through the driver.
2. Each table has marks: per partition, the first offset it does not hold (apps/lake/
   marks.py). A task writes only the rows above the marks the batch started with; the
   driver commits the files with the new marks, in one atomic commit per table (a
   conditional PUT of the log entry). The raw table's marks cover every record of the
   batch, quarantined ones too: the quarantine commit goes first, so whatever is below
   the raw marks is in one table or the other.
3. A batch replayed after a crash, or read again by a stream started without a checkpoint
   (it starts at the raw marks), writes nothing that is already there; nothing already in
   the lake is overwritten or shadowed, and no reader sees a record twice. Files of a
   task attempt or a batch that never committed are in no version (readers never list
   folders).
4. Spark commits the batch to its checkpoint only after both commits returned.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass

import pyarrow as pa
import pyarrow.compute as pc

from apps.lake.files import DATA_FILE, DataFile, LocalStore, S3Store, from_table, write_files
from apps.lake.marks import Marks, batch_ends, unwritten
from apps.lake.names import QUARANTINE_TABLE, RAW_TABLE, LakeTable
from apps.purchase_stream.layout import (
    QUARANTINE_ARROW,
    RAW_ARROW,
    REASON,
    TOPIC_ID,
    VALIDATED_ARROW,
)

KAFKA_ORDER = [("kafka_partition", "ascending"), ("kafka_offset", "ascending")]
TABLES = {t.area: t for t in (QUARANTINE_TABLE, RAW_TABLE)}


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


# Each task's outcome: a row per file written (`path` set), and per table a row per Kafka
# partition with the end of the records the task covered (`kafka_partition` set).
OUTCOME = pa.schema([*DATA_FILE, ("kafka_partition", pa.int32()), ("kafka_end", pa.int64())])
SQL_TYPES = {pa.string(): "string", pa.int64(): "bigint", pa.int32(): "int"}
OUTCOME_DDL = ", ".join(f"{f.name} {SQL_TYPES[f.type]}" for f in OUTCOME)  # for mapInArrow
COMMIT_ORDER = (QUARANTINE_TABLE.area, RAW_TABLE.area)  # quarantine first: see the docstring

Store = S3Store | LocalStore


def plan(validated: pa.Table, topic_id: str, marks: dict[str, Marks], root: str
         ) -> list[tuple[LakeTable, pa.Table, dict[int, int]]]:
    """Per table, in commit order: the rows to write (those above its marks) and the
    record ends the batch covers for it."""
    raw, quarantine = split(validated, topic_id)
    return [(QUARANTINE_TABLE.under(root), unwritten(quarantine, marks["quarantine"]),
             batch_ends(quarantine)),
            (RAW_TABLE.under(root), unwritten(raw, marks["raw"]), batch_ends(validated))]


@dataclass(frozen=True)
class PartWriter:
    """The `mapInArrow` function an executor runs on its slice of a batch: files written,
    outcome rows returned. Picklable: what it needs travels with the task."""

    store: Store
    root: str
    marks: dict[str, Marks]
    topic_id: str

    def __call__(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        validated = pa.Table.from_batches(list(batches), VALIDATED_ARROW)
        rows = []
        for table, new, ends in plan(validated, self.topic_id, self.marks, self.root):
            rows += [asdict(f) for f in write_files(self.store, table, new)]
            rows += [{"area": table.area, "kafka_partition": p, "kafka_end": e}
                     for p, e in ends.items()]
        yield pa.RecordBatch.from_pylist(rows, OUTCOME)


Commit = Callable[[LakeTable, list[DataFile], Marks], None]  # one atomic commit, with marks


class BatchWriter:
    """The `foreachBatch` function: `(batch DataFrame, batch id)` -> lake commits."""

    def __init__(self, commit: Commit, store: Store, root: str, marks: dict[str, Marks],
                 topic_id: str, writer_tasks: int = 1):
        self.commit = commit
        self.store, self.root = store, root
        self.marks = marks  # by table area, as committed in the lake (read at start)
        self.topic_id = topic_id
        self.writer_tasks = writer_tasks

    def __call__(self, batch, batch_id: int) -> None:
        """The executors read the batch (Kafka, once) and write; the driver gets back only
        the outcome rows, then commits."""
        writer = PartWriter(self.store, self.root, dict(self.marks), self.topic_id)
        self.commit_outcomes(batch.coalesce(self.writer_tasks)
                             .mapInArrow(writer, OUTCOME_DDL).toArrow())

    def write(self, validated: pa.Table) -> None:
        """A batch already in hand (tests, benchmarks): what one task does, then the commits."""
        writer = PartWriter(self.store, self.root, dict(self.marks), self.topic_id)
        self.commit_outcomes(pa.Table.from_batches(list(writer(iter(validated.to_batches()))),
                                                   OUTCOME))

    def commit_outcomes(self, outcomes: pa.Table) -> None:
        covered = outcomes.filter(pc.is_valid(outcomes["kafka_partition"]))
        files = from_table(outcomes.filter(pc.is_valid(outcomes["path"])))
        for area in COMMIT_ORDER:
            written = [f for f in files if f.area == area]
            if not written:
                continue  # nothing new for this table: no commit, its marks stay
            ends: dict[int, int] = {}
            for row in covered.filter(pc.equal(covered["area"], area)).to_pylist():
                ends[row["kafka_partition"]] = max(ends.get(row["kafka_partition"], 0),
                                                   row["kafka_end"])
            marks = self.marks[area].past(ends)
            self.commit(TABLES[area].under(self.root), written, marks)
            self.marks[area] = marks
