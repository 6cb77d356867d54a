"""What the runs record about themselves, one document per topic in `pipeline_progress`:
the incarnation they work on, what the last run landed and committed, and the lag it left
(in records, and since when the oldest of them waits), the dead letters stored by then.
`invoke status` reads it instead of asking Kafka or scanning the store; the next run reads
it to notice a topic created anew.

    {"_id": "UserEvents", "FirstTopicId": "e9d0...", "TopicId": "e9d0...",
     "Ends": {"0": 1812, ...}, "Landed": {RunRange json}, "Committed": {RunRange json},
     "LandedAt": ..., "CommittedAt": ..., "WaitingRecords": 0, "WaitingSince": null,
     "DeadLetters": 4}
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pymongo.database import Database

from apps.mongo import PIPELINE_PROGRESS
from apps.user_events.counts import RunRange


@dataclass(frozen=True)
class State:
    topic_id: str | None = None  # the incarnation the last run landed from
    ends: dict[int, int] | None = None  # the end offsets that run saw
    landed: RunRange | None = None
    committed_landed: bool = False  # the last landed range was also committed

    @classmethod
    def from_document(cls, doc: dict | None) -> State:
        if not doc or not doc.get("TopicId"):
            return cls()
        landed = RunRange.from_json(doc["Landed"]) if doc.get("Landed") else None
        return cls(doc["TopicId"], {int(p): e for p, e in (doc.get("Ends") or {}).items()},
                   landed, bool(doc.get("Landed")) and doc.get("Landed") == doc.get("Committed"))


def read(db: Database, topic: str) -> State:
    return State.from_document(db[PIPELINE_PROGRESS].find_one({"_id": topic}))


def first_topic_id(db: Database, topic: str, topic_id: str) -> str:
    """The first incarnation of the topic the store saw (this one, if none yet): its
    documents keep plain ids, as every document did before incarnations were told apart."""
    db[PIPELINE_PROGRESS].update_one({"_id": topic}, {"$setOnInsert": {"FirstTopicId": topic_id}},
                                     upsert=True)
    return db[PIPELINE_PROGRESS].find_one({"_id": topic})["FirstTopicId"]


def landed(db: Database, topic: str, run: RunRange, ends: dict[int, int], waiting: int,
           waiting_since: datetime | None, at: datetime, dead_letters: int) -> None:
    db[PIPELINE_PROGRESS].update_one({"_id": topic}, {"$set": {
        "TopicId": run.topic_id, "Ends": {str(p): e for p, e in ends.items()},
        "Landed": run.to_json(), "LandedAt": at,
        "WaitingRecords": waiting, "WaitingSince": waiting_since,
        "DeadLetters": dead_letters}})


def committed(db: Database, topic: str, run: RunRange, at: datetime) -> None:
    db[PIPELINE_PROGRESS].update_one({"_id": topic}, {"$set": {
        "Committed": run.to_json(), "CommittedAt": at}})


def forget_incarnation(db: Database, topic: str) -> None:
    """The old incarnation is settled: the next run's record starts afresh."""
    db[PIPELINE_PROGRESS].update_one({"_id": topic}, {"$unset": {
        "TopicId": "", "Ends": "", "Landed": "", "Committed": ""}})


def document(db: Database, topic: str) -> dict | None:
    return db[PIPELINE_PROGRESS].find_one({"_id": topic})
