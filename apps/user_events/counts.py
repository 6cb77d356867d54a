"""`user_event_counts`: one document per (UserId, EventName), moved by `$inc` (pure).

A run counts the valid events of one offset range per partition. Each count document
remembers, per partition, the offset up to which it has counted (`CountedOffsets`), and
its update is guarded by that: a document that already counted part of the range refuses
the update, so a retried or repeated run never counts an event twice. Nothing reads
`user_events`: a run costs what its new events touch, whatever the history.

    {"_id": "AddedBasket:u-1042", "UserId": "u-1042", "EventName": "AddedBasket",
     "EventCount": 7, "CountedOffsets": {"p0": 1812, "p2": 977}}

The marks of a topic's later incarnations (deleted and created again: offsets start over)
are prefixed with its topic id, `"<topic id>-p0"`, so they never guard another's offsets.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

COUNTED = "CountedOffsets"


@dataclass(frozen=True)
class Span:
    """The offsets [start, end) of one partition that a run covers."""

    start: int
    end: int


Ranges = dict[int, Span]  # partition -> span


def ranges_to_json(ranges: Ranges) -> dict[str, list[int]]:
    """A small JSON value (Airflow passes it between tasks as an XCom)."""
    return {str(p): [s.start, s.end] for p, s in sorted(ranges.items())}


def ranges_from_json(value: dict[str, list[int]]) -> Ranges:
    return {int(p): Span(int(start), int(end)) for p, (start, end) in value.items()}


def records_in(ranges: Ranges) -> int:
    return sum(s.end - s.start for s in ranges.values())


def bound(ranges: Ranges, cap: int) -> Ranges:
    """At most `cap` records of `ranges`, shared fairly: each partition gets an equal part,
    and what a short partition leaves goes to the others. The rest waits for the next run."""
    if cap < 1:
        raise ValueError(f"a run's cap must be at least 1 record, not {cap}")
    take = {p: 0 for p in ranges}
    left, open_ = cap, sorted(p for p, s in ranges.items() if s.end > s.start)
    while left and open_:
        share = max(1, left // len(open_))
        for p in list(open_):
            extra = min(share, ranges[p].end - ranges[p].start - take[p], left)
            take[p] += extra
            left -= extra
            if ranges[p].start + take[p] == ranges[p].end:
                open_.remove(p)
            if not left:
                break
    return {p: Span(s.start, s.start + take[p]) for p, s in ranges.items()}


@dataclass(frozen=True)
class RunRange:
    """What one run covers: offsets per partition of one incarnation of the topic."""

    ranges: Ranges
    topic_id: str
    tagged: bool  # not the first incarnation the store saw: ids and marks name it

    @property
    def mark_prefix(self) -> str:
        return f"{self.topic_id}-" if self.tagged else ""

    def to_json(self) -> dict:
        return {"ranges": ranges_to_json(self.ranges), "topic_id": self.topic_id,
                "tagged": self.tagged}

    @classmethod
    def from_json(cls, value: dict) -> RunRange:
        return cls(ranges_from_json(value["ranges"]), value["topic_id"], bool(value["tagged"]))


def count_id(user_id: str, event_name: str) -> str:
    """The pair's document id; event names hold no ":", so it splits back unambiguously."""
    return f"{event_name}:{user_id}"


def partition_key(partition: int, prefix: str = "") -> str:
    # "p0", not "0": a numeric path component would read as an array index.
    return f"{prefix}p{partition}"


@dataclass
class PairEvents:
    """One (UserId, EventName) pair's events in this run, as offsets per partition."""

    user_id: str
    event_name: str
    offsets: dict[int, list[int]] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return count_id(self.user_id, self.event_name)


def tally(events: Iterable[tuple[int, int, str, str]]) -> dict[str, PairEvents]:
    """(partition, offset, UserId, EventName) of each valid event -> the pairs it touches."""
    pairs: dict[str, PairEvents] = {}
    for partition, offset, user_id, event_name in events:
        key = count_id(user_id, event_name)
        pair = pairs.get(key) or pairs.setdefault(key, PairEvents(user_id, event_name))
        pair.offsets.setdefault(partition, []).append(offset)
    return pairs


def counting_starts(ranges: Ranges, counted: dict[str, int] | None, prefix: str = ""
                    ) -> dict[int, int]:
    """Per partition, the first offset a document has not counted yet within the range."""
    counted = counted or {}
    return {p: max(span.start, counted.get(partition_key(p, prefix), span.start))
            for p, span in ranges.items()}


def count_update(pair: PairEvents, starts: dict[int, int], ranges: Ranges, prefix: str = ""
                 ) -> tuple[dict, dict] | None:
    """(filter, update) adding the pair's events at or after `starts`; None if none are.

    The filter matches only while the document has counted no further than `starts` in
    each of the pair's partitions. With upsert, a missing pair is created; a document that
    counted further refuses (with a duplicate-key error, as its `_id` exists).
    """
    partitions = sorted(pair.offsets)
    new = sum(1 for p in partitions for offset in pair.offsets[p] if offset >= starts[p])
    if not new:
        return None
    guard = []
    for p in partitions:
        path = f"{COUNTED}.{partition_key(p, prefix)}"
        guard.append({"$or": [{path: {"$lte": starts[p]}}, {path: {"$exists": False}}]})
    return (
        {"_id": pair.id, "$and": guard},
        {"$inc": {"EventCount": new},
         # $max: a range replayed after offsets were moved back never lowers the mark.
         "$max": {f"{COUNTED}.{partition_key(p, prefix)}": ranges[p].end for p in partitions},
         "$setOnInsert": {"UserId": pair.user_id, "EventName": pair.event_name}},
    )
