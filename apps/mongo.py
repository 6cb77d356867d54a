"""shopstream's MongoDB collections and their indexes (DESIGN.md names them).

Only what both MongoDB and FerretDB 1.x support is used: plain and compound indexes,
unique constraints.
"""

from __future__ import annotations

from pymongo import ASCENDING, IndexModel
from pymongo.database import Database

USER_EVENTS = "user_events"
USER_EVENT_COUNTS = "user_event_counts"
USER_EVENTS_DEAD_LETTER = "user_events_dead_letter"
DATA_LOSSES = "data_losses"  # records Kafka deleted before they were read (apps/losses.py)
PIPELINE_PROGRESS = "pipeline_progress"  # what the DAG's runs record (user_events/progress.py)

INDEXES: dict[str, list[IndexModel]] = {
    # The recount groups events by user and event name.
    USER_EVENTS: [IndexModel([("UserId", ASCENDING), ("EventName", ASCENDING)],
                             name="user_event")],
    # One count document per (UserId, EventName), updated in place.
    USER_EVENT_COUNTS: [IndexModel([("UserId", ASCENDING), ("EventName", ASCENDING)],
                                   name="user_event_unique", unique=True)],
    USER_EVENTS_DEAD_LETTER: [],
    DATA_LOSSES: [],
    PIPELINE_PROGRESS: [],
}


def ensure_collections(db: Database) -> None:
    """Create the collections and indexes; safe to call on every `invoke up`."""
    existing = set(db.list_collection_names())
    for name, indexes in INDEXES.items():
        if name not in existing:
            db.create_collection(name)
        if indexes:
            db[name].create_indexes(indexes)
