"""The MongoDB edge: idempotent inserts and guarded count updates.

Written for what MongoDB 7 and FerretDB 1.24 both do: `insert_many(ordered=False)`,
the `update` command (many updates in one round trip) with `$inc`/`$max`/`$setOnInsert` and upsert, a
`find` by `_id`. No aggregation, no transactions, no `$merge`, no client-level bulk write.
"""

from __future__ import annotations

from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from apps.settings import Settings
from apps.user_events.counts import (
    COUNTED, PairEvents, Ranges, RunRange, count_update, counting_starts,
)
from apps.user_events.documents import Coordinates

DUPLICATE_KEY = 11000
# FerretDB on PostgreSQL holds a connection for each update of a bulk until the bulk ends,
# from a pool of 50: one bulk of 50, or three of 25 at once, exhausted it and hung the
# server. 2 writers x 10 keep 20 in flight, room for a test or a second client beside.
COUNT_BULK = 10
COUNT_WRITERS = 2


def client(settings: Settings, **options) -> MongoClient:
    return MongoClient(settings.mongo_url, tz_aware=True, **options)


def _split_errors(exc: BulkWriteError) -> tuple[int, list[dict]]:
    """(number of duplicate-key errors, every other write error)."""
    errors = exc.details.get("writeErrors", [])
    others = [e for e in errors if e.get("code") != DUPLICATE_KEY]
    return len(errors) - len(others), others


def insert_new(collection: Collection, documents: list[dict]) -> tuple[int, int]:
    """Insert the documents; (inserted, already present). A document whose `_id` exists is
    a replay and is left as it is; any other write error is raised."""
    if not documents:
        return 0, 0
    try:
        result = collection.insert_many(documents, ordered=False)
    except BulkWriteError as exc:
        duplicates, others = _split_errors(exc)
        if others:
            raise RuntimeError(f"inserting into {collection.name} failed: {others[:3]}") from exc
        return exc.details["nInserted"], duplicates
    return len(result.inserted_ids), 0


@dataclass
class CountFigures:
    created: int = 0   # count documents created (pairs seen for the first time)
    updated: int = 0   # existing count documents incremented

    def add(self, other: CountFigures) -> None:
        self.created += other.created
        self.updated += other.updated


def _write(collection: Collection, ops: list[tuple[dict, dict]]) -> tuple[CountFigures, bool]:
    """One bulk; (what it changed, whether some document refused as having counted already).

    Sent as the `update` command itself: when some writes of a bulk fail, FerretDB's reply
    has no `nModified`, which `Collection.bulk_write` cannot read.
    """
    reply = collection.database.command({
        "update": collection.name, "ordered": False,
        "updates": [{"q": f, "u": u, "upsert": True} for f, u in ops],
    })
    errors = reply.get("writeErrors", [])
    others = [e for e in errors if e.get("code") != DUPLICATE_KEY]
    if others:
        raise RuntimeError(f"updating {collection.name} failed: {others[:3]}")
    created = len(reply.get("upserted", []))
    return CountFigures(created, reply.get("n", 0) - created), bool(errors)


def apply_counts(collection: Collection, pairs: Iterable[PairEvents], ranges: Ranges,
                 prefix: str = "") -> CountFigures:
    """Add each pair's events of `ranges` to its count document, exactly once.

    Every update is guarded by the range's start, and nothing is read; bulks go
    COUNT_WRITERS at a time (each pair is in one bulk only, so they never touch the same
    document). Bulks in which a document refused (a replay after a failed run) are sent
    again once the counts' own marks were read (the collection is users x 3 documents,
    whatever the history), adding only what each document has not counted. Which writes
    were refused is settled by that read, not by the reply's indexes (FerretDB's are not
    reliable).
    """
    pairs = list(pairs)
    bulks = [pairs[i:i + COUNT_BULK] for i in range(0, len(pairs), COUNT_BULK)]
    with ThreadPoolExecutor(COUNT_WRITERS, thread_name_prefix="count") as pool:
        results = list(pool.map(lambda bulk: _write_bulk(collection, bulk, ranges, None, prefix),
                                bulks))
    total = CountFigures()
    for figures, _ in results:
        total.add(figures)
    refused = [bulk for bulk, (_, was_refused) in zip(bulks, results) if was_refused]
    if refused:
        marks = {d["_id"]: d.get(COUNTED) for d in collection.find({}, {COUNTED: 1})}
        for bulk in refused:
            figures, again = _write_bulk(collection, bulk, ranges, marks, prefix)
            if again:
                raise RuntimeError(f"{collection.name}: count documents changed while this "
                                   "run updated them (is another run active?)")
            total.add(figures)
    return total


def _write_bulk(collection: Collection, bulk: list[PairEvents], ranges: Ranges,
                marks: dict[str, dict] | None, prefix: str) -> tuple[CountFigures, bool]:
    ops = [op for pair in bulk if (op := count_update(
        pair, counting_starts(ranges, (marks or {}).get(pair.id), prefix), ranges, prefix))]
    return _write(collection, ops) if ops else (CountFigures(), False)


STORED_LOOKUP = 2000  # ids per query: each query costs FerretDB a pass over the collection


def stored_events(collection: Collection, topic: str, run: RunRange):
    """(partition, offset, UserId, EventName) of the events of `run` found in the store:
    how a range is counted once its topic is gone from Kafka (rare, and costly on FerretDB,
    where each query reads the collection: a few queries per range)."""
    ids = [Coordinates(topic, p, offset, run.topic_id, run.tagged).document_id
           for p, span in sorted(run.ranges.items()) for offset in range(span.start, span.end)]
    for i in range(0, len(ids), STORED_LOOKUP):
        for doc in collection.find({"_id": {"$in": ids[i:i + STORED_LOOKUP]}},
                                   {"UserId": 1, "EventName": 1, "Kafka": 1}):
            yield doc["Kafka"]["Partition"], doc["Kafka"]["Offset"], doc["UserId"], doc["EventName"]
