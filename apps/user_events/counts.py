"""`user_event_counts`: one document per (UserId, EventName), moved by `$inc` (pure).

A run counts the valid events of one offset range per partition. Each count document
remembers, per partition, the offset up to which it has counted (`CountedOffsets`), and
its update is guarded by that: a document that already counted part of the range refuses
the update, so a retried or repeated run never counts an event twice. Nothing reads
`user_events`: a run costs what its new events touch, whatever the history.

    {"_id": "AddedBasket:u-1042", "UserId": "u-1042", "EventName": "AddedBasket",
     "EventCount": 7, "CountedOffsets": {"p0": 1812, "p2": 977}}
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


def count_id(user_id: str, event_name: str) -> str:
    """The pair's document id; event names hold no ":", so it splits back unambiguously."""
    return f"{event_name}:{user_id}"


def partition_key(partition: int) -> str:
    # "p0", not "0": a numeric path component would read as an array index.
    return f"p{partition}"


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


def counting_starts(ranges: Ranges, counted: dict[str, int] | None) -> dict[int, int]:
    """Per partition, the first offset a document has not counted yet within the range."""
    counted = counted or {}
    return {p: max(span.start, counted.get(partition_key(p), span.start))
            for p, span in ranges.items()}


def count_update(pair: PairEvents, starts: dict[int, int], ranges: Ranges
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
        path = f"{COUNTED}.{partition_key(p)}"
        guard.append({"$or": [{path: {"$lte": starts[p]}}, {path: {"$exists": False}}]})
    return (
        {"_id": pair.id, "$and": guard},
        {"$inc": {"EventCount": new},
         # $max: a range replayed after offsets were moved back never lowers the mark.
         "$max": {f"{COUNTED}.{partition_key(p)}": ranges[p].end for p in partitions},
         "$setOnInsert": {"UserId": pair.user_id, "EventName": pair.event_name}},
    )
