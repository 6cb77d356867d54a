"""Which Kafka records a lake table already holds: per partition of one incarnation of a
topic, the offset of the first record it does not (pure functions).

Every commit of the stream records the table's marks in its commit metadata, in the same
atomic commit as the rows. A batch replayed after a crash, or read again from a new
checkpoint, is written only above them: nothing already in the lake is written twice,
overwritten or shadowed, and a stream without a checkpoint resumes from them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc

COMMIT_KEY = "shopstream.kafka"  # the commit metadata entry that holds the marks
PARTITION, OFFSET, TOPIC_ID = "kafka_partition", "kafka_offset", "kafka_topic_id"


@dataclass(frozen=True)
class Marks:
    topic: str
    topic_id: str
    ends: dict[int, int] = field(default_factory=dict)  # partition -> first offset not held

    def to_json(self) -> str:
        return json.dumps({"topic": self.topic, "topic_id": self.topic_id,
                           "ends": {str(p): e for p, e in sorted(self.ends.items())}})

    @classmethod
    def from_json(cls, text: str) -> Marks:
        value = json.loads(text)
        return cls(value["topic"], value["topic_id"],
                   {int(p): int(e) for p, e in value["ends"].items()})

    def after(self, rows: pa.Table) -> Marks:
        """The marks once `rows` (Kafka records of this incarnation) are held too."""
        return self.past(batch_ends(rows))

    def past(self, ends: dict[int, int]) -> Marks:
        """The marks once every record below `ends` (partition -> offset) is held too."""
        merged = dict(self.ends)
        for partition, end in ends.items():
            merged[partition] = max(merged.get(partition, 0), end)
        return Marks(self.topic, self.topic_id, merged)


def batch_ends(rows: pa.Table) -> dict[int, int]:
    """Per Kafka partition in `rows`, one past its highest offset."""
    if not rows.num_rows:
        return {}
    grouped = rows.group_by(PARTITION).aggregate([(OFFSET, "max")])
    return {p: m + 1 for p, m in zip(grouped[PARTITION].to_pylist(),
                                     grouped[f"{OFFSET}_max"].to_pylist())}


def unwritten(rows: pa.Table, marks: Marks) -> pa.Table:
    """The rows at or above the marks of their partition: those the table does not hold."""
    if not rows.num_rows or not marks.ends:
        return rows
    floor = pa.array([0] * rows.num_rows, pa.int64())  # each row's partition mark
    for p, end in sorted(marks.ends.items()):
        floor = pc.if_else(pc.equal(rows[PARTITION], p), end, floor)
    return rows.filter(pc.greater_equal(rows[OFFSET], floor))


def marks_in_history(history: list[dict], topic: str, topic_id: str) -> Marks | None:
    """The newest marks a table's commits (newest first, as delta-rs lists its history)
    recorded for this incarnation of the topic; None if it holds none of its records."""
    for commit in history:
        text = commit.get(COMMIT_KEY)
        if text:
            marks = Marks.from_json(text)
            if (marks.topic, marks.topic_id) == (topic, topic_id):
                return marks
    return None
