"""The lake's Kafka marks and maintenance's choice of periods: pure code."""

from datetime import UTC, datetime, timedelta

import pyarrow as pa

from apps.lake.figures import Period
from apps.lake.maintenance import to_compact
from apps.lake.marks import COMMIT_KEY, Marks, batch_ends, marks_in_history, unwritten


def records(*coordinates: tuple[int, int]) -> pa.Table:
    return pa.table({"kafka_partition": pa.array([p for p, _ in coordinates], pa.int32()),
                     "kafka_offset": pa.array([o for _, o in coordinates], pa.int64())})


def test_a_replayed_batch_writes_only_what_the_table_does_not_hold():
    batch = records((0, 5), (0, 6), (1, 3), (2, 10), (2, 11))
    marks = Marks("PurchasedItem", "id-1", {0: 6, 2: 11})
    assert unwritten(batch, marks).to_pylist() == [
        {"kafka_partition": 0, "kafka_offset": 6}, {"kafka_partition": 1, "kafka_offset": 3},
        {"kafka_partition": 2, "kafka_offset": 11}]
    held = marks.after(unwritten(batch, marks))
    assert held.ends == {0: 7, 1: 4, 2: 12}
    assert unwritten(batch, held).num_rows == 0  # the same batch again: nothing
    assert unwritten(batch, Marks("PurchasedItem", "id-1")).num_rows == 5


def test_marks_round_trip_and_the_newest_of_this_incarnation_wins():
    marks = Marks("PurchasedItem", "id-2", {0: 7, 1: 4})
    assert Marks.from_json(marks.to_json()) == marks
    history = [{"operation": "OPTIMIZE"},  # newest first, as delta-rs lists it
               {COMMIT_KEY: marks.to_json()},
               {COMMIT_KEY: Marks("PurchasedItem", "id-2", {0: 1}).to_json()}]
    assert marks_in_history(history, "PurchasedItem", "id-2") == marks
    assert marks_in_history(history, "PurchasedItem", "id-other") is None
    assert batch_ends(records((1, 9), (1, 3), (0, 0))) == {0: 1, 1: 10}
    assert batch_ends(records()) == {}


def test_the_schedule_compacts_quiet_periods_and_invoke_compact_every_split_one():
    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    periods = [Period("2026-11-30", 40, 10, now - timedelta(hours=20)),
               Period("2026-12-01", 1, 10, now - timedelta(hours=3)),  # already one file
               Period("2026-12-02", 300, 10, now - timedelta(minutes=2))]  # still written
    assert [p.name for p in to_compact(periods, now, closed_only=True)] == ["2026-11-30"]
    assert [p.name for p in to_compact(periods, now, closed_only=False)] == [
        "2026-11-30", "2026-12-02"]
