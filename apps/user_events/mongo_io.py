"""The MongoDB edge: idempotent inserts and guarded count updates.

Written for what MongoDB 7 and FerretDB 1.24 both do: `insert_many(ordered=False)`,
the `update` command (many updates in one round trip) with `$inc`/`$max`/`$setOnInsert` and upsert, a
`find` by `_id`. No aggregation, no transactions, no `$merge`, no client-level bulk write.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from pymongo import MongoClient
from pymongo.collection import Collection
from pymongo.errors import BulkWriteError

from apps.settings import Settings
from apps.user_events.counts import COUNTED, PairEvents, Ranges, count_update, counting_starts

DUPLICATE_KEY = 11000
# FerretDB on PostgreSQL opens a connection per write of a bulk: 50 at once exhausted its
# pool and hung; 25 keeps it flowing.
COUNT_BULK = 25


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


def apply_counts(collection: Collection, pairs: Iterable[PairEvents], ranges: Ranges
                 ) -> CountFigures:
    """Add each pair's events of `ranges` to its count document, exactly once.

    Every update is guarded by the range's start, and nothing is read. When a document
    refuses (a replay after a failed run), the counts' own marks are read once (the
    collection is users x 3 documents, whatever the history) and the refused bulk and all
    the following ones add only what each document has not counted. Which writes of a bulk
    were refused is settled by that read, not by the error's indexes (FerretDB's are not
    reliable).
    """
    total = CountFigures()
    marks: dict[str, dict] | None = None  # _id -> CountedOffsets, once a document refused
    pairs = list(pairs)
    for i in range(0, len(pairs), COUNT_BULK):
        bulk = pairs[i:i + COUNT_BULK]
        figures, refused = _write_bulk(collection, bulk, ranges, marks)
        total.add(figures)
        if refused:
            if marks is not None:
                raise RuntimeError(f"{collection.name}: count documents changed while this "
                                   "run updated them (is another run active?)")
            marks = {d["_id"]: d.get(COUNTED) for d in collection.find({}, {COUNTED: 1})}
            figures, refused = _write_bulk(collection, bulk, ranges, marks)
            total.add(figures)
            if refused:
                raise RuntimeError(f"{collection.name}: count documents changed while this "
                                   "run updated them (is another run active?)")
    return total


def _write_bulk(collection: Collection, bulk: list[PairEvents], ranges: Ranges,
                marks: dict[str, dict] | None) -> tuple[CountFigures, bool]:
    ops = [op for pair in bulk if (op := count_update(
        pair, counting_starts(ranges, (marks or {}).get(pair.id)), ranges))]
    return _write(collection, ops) if ops else (CountFigures(), False)
