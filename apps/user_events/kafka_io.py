"""The Kafka edge: what a consumer group has pending, reading a range, committing it.

Partitions are `assign()`ed, never `subscribe()`d: a short-lived run joins no group, so it
waits for no rebalance and leaves no member behind if it is killed; commits still go to
the group. A run covers the offsets pending when it starts, up to the end offsets noted
then, so a busy topic cannot keep it going.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from kafka import KafkaConsumer, TopicPartition
from kafka.consumer.fetcher import ConsumerRecord
from kafka.errors import OffsetOutOfRangeError
from kafka.structs import OffsetAndMetadata

from apps.kafka_admin import describe_topic
from apps.settings import Settings
from apps.user_events.counts import Ranges, Span

# A run that sees no record for this long, with offsets still ahead of it, gives up.
IDLE_TIMEOUT_S = 60.0


@contextmanager
def consumer(settings: Settings, group_id: str | None) -> Iterator[KafkaConsumer]:
    c = KafkaConsumer(
        bootstrap_servers=settings.kafka_servers,
        group_id=group_id,
        enable_auto_commit=False,
        # Every read seeks to the offsets it planned: a position Kafka no longer has (its
        # records deleted, or the topic created anew) is an error, never a silent jump.
        auto_offset_reset="none",
        max_poll_records=5000,
        request_timeout_ms=30_000,
    )
    try:
        yield c
    finally:
        c.close(autocommit=False)


class TopicChanged(RuntimeError):
    """The records a run planned to read are not there as planned: never read others."""


def topic_id(settings: Settings, topic: str) -> str:
    """The topic's incarnation: Kafka's id for it, new when it is deleted and created again."""
    return describe_topic(settings, topic).topic_id


def check_topic(settings: Settings, topic: str, expected_id: str) -> None:
    now = topic_id(settings, topic)
    if now != expected_id:
        raise TopicChanged(
            f"Kafka topic {topic!r} was deleted and created again during this run (topic id "
            f"{expected_id}, now {now}): its offsets belong to the old topic, so this run "
            "stops; the next run starts on the new one")


def partitions(c: KafkaConsumer, topic: str) -> list[TopicPartition]:
    found = c.partitions_for_topic(topic)
    if not found:
        raise LookupError(f"Kafka topic {topic!r} does not exist")
    return [TopicPartition(topic, p) for p in sorted(found)]


def end_offsets(c: KafkaConsumer, topic: str) -> dict[int, int]:
    """Per partition, the offset the next record will get."""
    return {tp.partition: end for tp, end in c.end_offsets(partitions(c, topic)).items()}


def log_bounds(c: KafkaConsumer, topic: str) -> tuple[dict[int, int], dict[int, int]]:
    """Per partition, (the first offset Kafka still holds, the offset of the next record)."""
    tps = partitions(c, topic)
    starts, ends = c.beginning_offsets(tps), c.end_offsets(tps)
    return ({tp.partition: starts[tp] for tp in tps}, {tp.partition: ends[tp] for tp in tps})


def committed_offsets(c: KafkaConsumer, topic: str, incarnation: str) -> dict[int, int]:
    """The group's committed offsets in this incarnation of the topic (a commit names the
    topic id in its metadata; one made in another incarnation, or none, is left out)."""
    found = {}
    for tp in partitions(c, topic):
        at = c.committed(tp, metadata=True)
        if at is not None and at.metadata in (incarnation, ""):  # "": before ids were kept
            found[tp.partition] = at.offset
    return found


def committed(c: KafkaConsumer, topic: str) -> dict[int, int | None]:
    return {tp.partition: c.committed(tp) for tp in partitions(c, topic)}


def read(c: KafkaConsumer, topic: str, ranges: Ranges,
         idle_timeout_s: float = IDLE_TIMEOUT_S) -> Iterator[list[ConsumerRecord]]:
    """The records of `ranges`, in polled batches; stops once every partition's position
    reached its end (offsets may have gaps: no record at end - 1 is waited for)."""
    todo = {TopicPartition(topic, p): span for p, span in ranges.items() if span.end > span.start}
    if not todo:
        return
    c.assign(list(todo))
    for tp, span in todo.items():
        c.seek(tp, span.start)
    last_progress = time.monotonic()
    while todo:
        try:
            polled = c.poll(timeout_ms=1000)
        except OffsetOutOfRangeError as exc:
            raise TopicChanged(f"Kafka topic {topic!r} no longer holds offsets this run "
                               f"planned to read ({exc}): deleted by retention or by a "
                               "new incarnation of the topic; the next run records the "
                               "loss and goes on") from None
        for tp, records in polled.items():
            if tp in todo:
                if records and records[0].offset < todo[tp].start:
                    raise TopicChanged(f"Kafka topic {topic!r} partition {tp.partition} went "
                                       f"back to offset {records[0].offset} while this run read "
                                       f"from {todo[tp].start}: the topic was created anew")
                batch = [r for r in records if r.offset < todo[tp].end]
                if batch:
                    yield batch
        done = [tp for tp, span in todo.items() if c.position(tp) >= span.end]
        if done:
            c.pause(*done)
            for tp in done:
                del todo[tp]
        if polled or done:
            last_progress = time.monotonic()
        elif time.monotonic() - last_progress > idle_timeout_s:
            left = {tp.partition: (c.position(tp), s.end) for tp, s in todo.items()}
            raise TimeoutError(f"no record from Kafka topic {topic!r} for {idle_timeout_s:.0f} s; "
                               f"partition: (position, end) still to read: {left}")


def commit(c: KafkaConsumer, topic: str, ranges: Ranges, incarnation: str) -> None:
    """Move the group past `ranges` (one commit for every partition), naming the topic id."""
    c.commit({TopicPartition(topic, p): OffsetAndMetadata(span.end, incarnation, -1)
              for p, span in ranges.items()})


def timestamps_at(c: KafkaConsumer, topic: str, offsets: dict[int, int],
                  timeout_s: float = 10.0) -> dict[int, int]:
    """The Kafka timestamp (ms) of the record at or after each offset; partitions whose
    record did not come within the timeout are left out."""
    tps = {TopicPartition(topic, p): offset for p, offset in offsets.items()}
    c.assign(list(tps))
    c.resume(*tps)  # a partition the run's read paused stays paused through assign()
    for tp, offset in tps.items():
        c.seek(tp, offset)
    found: dict[int, int] = {}
    deadline = time.monotonic() + timeout_s
    while len(found) < len(tps) and time.monotonic() < deadline:
        for tp, records in c.poll(timeout_ms=500, max_records=len(tps)).items():
            if records and tp.partition not in found:
                found[tp.partition] = records[0].timestamp
                c.pause(tp)
    return found
