"""Records Kafka deleted before shopstream read them: counted, stored, alerted once, shown.

Both paths out of Kafka record their losses here, in one shape: the events DAG when its
next offsets are below a partition's log start (retention) or its topic was deleted and
created again, and the purchase stream when its next offsets are gone. Each lost range
is one document of `data_losses`, its `_id` made of the range, so finding the same loss
again stores and alerts nothing new. A loss stays "open" in `invoke status` until an
operator acknowledges it with `invoke losses --ack`.

    {"_id": "user_events/UserEvents@e9d0...:2:1500-1750", "Source": "user_events",
     "Topic": "UserEvents", "TopicId": "e9d0...", "Partition": 2, "FirstOffset": 1500,
     "EndOffset": 1750, "Records": 250, "AtLeast": false,
     "Reason": "deleted by retention before it was read", "DetectedAt": ..., "AlertedAt": ...,
     "AcknowledgedAt": null}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from pymongo.collection import Collection
from pymongo.errors import DuplicateKeyError

from apps.alerts import post_alert

log = logging.getLogger(__name__)

RETENTION = "deleted by retention before it was read"
RECREATED = "its topic was deleted and created again before it was read"


@dataclass(frozen=True)
class LostRange:
    """Offsets [first, end) of one partition of one topic incarnation, never read."""

    source: str  # which path lost it: "user_events" or "purchase_stream"
    topic: str
    topic_id: str
    partition: int
    first: int
    end: int
    reason: str
    # True when `end` is the last offset known, not the last one written: the topic went
    # away with records nobody saw the offsets of.
    at_least: bool = False

    @property
    def records(self) -> int:
        return self.end - self.first

    @property
    def id(self) -> str:
        return (f"{self.source}/{self.topic}@{self.topic_id}:{self.partition}:"
                f"{self.first}-{self.end}")

    def describe(self) -> str:
        more = "at least " if self.at_least else ""
        return (f"{more}{self.records:,} records of {self.topic} partition {self.partition} "
                f"(offsets {self.first}-{self.end - 1}) {self.reason}")


def losses_between(source: str, topic: str, topic_id: str, wanted: dict[int, int],
                   log_starts: dict[int, int]) -> list[LostRange]:
    """The ranges a reader about to start at `wanted` offsets finds already deleted: per
    partition, [wanted, log start) where the log now starts later."""
    return [LostRange(source, topic, topic_id, p, wanted[p], log_starts[p], RETENTION)
            for p in sorted(wanted) if p in log_starts and wanted[p] < log_starts[p]]


def lost_with_old_incarnation(source: str, topic: str, old_topic_id: str,
                              read_up_to: dict[int, int], last_ends: dict[int, int]
                              ) -> list[LostRange]:
    """A topic deleted and created again took with it what was never read: per partition,
    from where reading stopped to the last end offset the reader saw (at least: records
    written after it looked were seen by nobody)."""
    return [LostRange(source, topic, old_topic_id, p, read_up_to.get(p, 0), end, RECREATED,
                      at_least=True)
            for p, end in sorted(last_ends.items()) if end > read_up_to.get(p, 0)]


def loss_document(loss: LostRange, detected_at: datetime) -> dict:
    return {"_id": loss.id, "Source": loss.source, "Topic": loss.topic,
            "TopicId": loss.topic_id, "Partition": loss.partition,
            "FirstOffset": loss.first, "EndOffset": loss.end, "Records": loss.records,
            "AtLeast": loss.at_least, "Reason": loss.reason, "DetectedAt": detected_at,
            "AlertedAt": None, "AcknowledgedAt": None}


def alert_message(loss: LostRange) -> dict:
    return {"text": f"shopstream: data lost: {loss.describe()} ({loss.source}); "
                    "`invoke losses` lists it, `invoke losses --ack` acknowledges it",
            "loss": loss.id, "source": loss.source, "topic": loss.topic,
            "topic_id": loss.topic_id, "partition": loss.partition,
            "first_offset": loss.first, "end_offset": loss.end, "records": loss.records,
            "at_least": loss.at_least, "reason": loss.reason}


def record(collection: Collection, losses: list[LostRange], detected_at: datetime,
           webhook_url: str | None) -> list[LostRange]:
    """Store each loss not stored yet and alert it once; returns the new ones."""
    new = []
    for loss in losses:
        try:
            collection.insert_one(loss_document(loss, detected_at))
        except DuplicateKeyError:
            continue  # found before: stored and alerted then
        log.error("data lost: %s", loss.describe())
        new.append(loss)
        if post_alert(webhook_url, alert_message(loss)):
            collection.update_one({"_id": loss.id}, {"$set": {"AlertedAt": detected_at}})
    return new


def open_losses(collection: Collection) -> list[dict]:
    """The losses nobody acknowledged yet (a small collection: one document per range)."""
    return sorted(collection.find({"AcknowledgedAt": None}), key=lambda d: d["DetectedAt"])


def acknowledge(collection: Collection, ids: list[str] | None, at: datetime) -> int:
    """Mark losses as seen (all open ones when `ids` is None); returns how many."""
    query: dict = {"AcknowledgedAt": None}
    if ids is not None:
        query["_id"] = {"$in": ids}
    return collection.update_many(query, {"$set": {"AcknowledgedAt": at}}).modified_count


def table(documents: list[dict]):
    """The losses as a rich table, oldest first."""
    from rich.table import Table

    out = Table(title="records Kafka deleted before shopstream read them", title_justify="left")
    for column in ("detected", "source", "topic", "partition", "offsets", "records", "why",
                   "acknowledged"):
        out.add_column(column, justify="right" if column == "records" else "left")
    for d in documents:
        records = f"{'≥ ' if d['AtLeast'] else ''}{d['Records']:,}"
        out.add_row(f"{d['DetectedAt']:%Y-%m-%d %H:%M:%S}", d["Source"],
                    f"{d['Topic']} ({d['TopicId'][:8]})", str(d["Partition"]),
                    f"{d['FirstOffset']}-{d['EndOffset'] - 1}", records, d["Reason"],
                    f"{d['AcknowledgedAt']:%Y-%m-%d %H:%M}" if d["AcknowledgedAt"] else "no")
    return out
