"""Kafka records -> MongoDB documents: an event, or a dead letter (pure functions).

A document's `_id` is its Kafka coordinates, so replaying a message inserts nothing twice.
Coordinates repeat when a topic is deleted and created again: the first incarnation of a
topic the store saw keeps the plain `topic:partition:offset` (the documents stored before
incarnations were told apart keep their ids), every later one carries its topic id,
`topic@topic-id:partition:offset`, so it lands as new data beside the old.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from bson import Binary
from pydantic import ValidationError

from apps.contract.models import UserEvent


@dataclass(frozen=True)
class Coordinates:
    """Where a record sits in Kafka."""

    topic: str
    partition: int
    offset: int
    topic_id: str | None = None  # the topic's incarnation (Kafka's topic id)
    tagged: bool = False  # not the first incarnation the store saw: the id says which

    @property
    def document_id(self) -> str:
        # Kafka topic names never contain ":" or "@", so the id splits back unambiguously.
        topic = f"{self.topic}@{self.topic_id}" if self.tagged else self.topic
        return f"{topic}:{self.partition}:{self.offset}"

    def as_fields(self) -> dict:
        return {"Topic": self.topic, "TopicId": self.topic_id, "Partition": self.partition,
                "Offset": self.offset}


def to_millisecond(moment: datetime) -> datetime:
    """MongoDB keeps dates to the millisecond: truncate explicitly, so reads compare equal."""
    return moment.replace(microsecond=moment.microsecond // 1000 * 1000)


def event_document(event: UserEvent, at: Coordinates, ingested_at: datetime) -> dict:
    """The stored form of a valid event: the contract's fields, its coordinates, when."""
    return {
        "_id": at.document_id,
        "UserId": event.UserId,
        "SessionId": event.SessionId,
        "EventName": event.EventName.value,
        "TimeStamp": to_millisecond(event.TimeStamp),
        "Attributes": event.Attributes.model_dump(),
        "Kafka": at.as_fields(),
        "IngestedAt": to_millisecond(ingested_at),
    }


def dead_letter_document(key: bytes | None, value: bytes | None, error: str,
                         at: Coordinates, ingested_at: datetime) -> dict:
    """A message that is not a valid UserEvent, kept whole with why it was refused."""
    return {
        "_id": at.document_id,
        "Key": None if key is None else Binary(key),
        "Value": None if value is None else Binary(value),
        "Error": error,
        "Kafka": at.as_fields(),
        "IngestedAt": to_millisecond(ingested_at),
    }


def parse_event(value: bytes | None) -> UserEvent:
    """The contract's UserEvent in a message value; ValueError saying what is wrong."""
    if value is None:
        raise ValueError("message has no value (a tombstone), not a UserEvent")
    try:
        return UserEvent.model_validate_json(value)
    except ValidationError as exc:
        raise ValueError(str(exc)) from None


def to_document(key: bytes | None, value: bytes | None, at: Coordinates,
                ingested_at: datetime) -> tuple[bool, dict]:
    """(True, event document) for a valid event, (False, dead letter) for anything else."""
    try:
        event = parse_event(value)
    except ValueError as exc:
        return False, dead_letter_document(key, value, str(exc), at, ingested_at)
    return True, event_document(event, at, ingested_at)
