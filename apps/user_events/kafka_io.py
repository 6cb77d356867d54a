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
from kafka.structs import OffsetAndMetadata

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
        # Where a group has no committed offset yet, start at the beginning, not the end.
        auto_offset_reset="earliest",
        max_poll_records=5000,
        request_timeout_ms=30_000,
    )
    try:
        yield c
    finally:
        c.close(autocommit=False)


def partitions(c: KafkaConsumer, topic: str) -> list[TopicPartition]:
    found = c.partitions_for_topic(topic)
    if not found:
        raise LookupError(f"Kafka topic {topic!r} does not exist")
    return [TopicPartition(topic, p) for p in sorted(found)]


def end_offsets(c: KafkaConsumer, topic: str) -> dict[int, int]:
    """Per partition, the offset the next record will get."""
    return {tp.partition: end for tp, end in c.end_offsets(partitions(c, topic)).items()}


def pending(c: KafkaConsumer, topic: str) -> Ranges:
    """Per partition: [the group's committed offset (else the earliest), the end now)."""
    tps = partitions(c, topic)
    ends = c.end_offsets(tps)
    beginnings = c.beginning_offsets(tps)
    ranges = {}
    for tp in tps:
        committed = c.committed(tp)
        start = beginnings[tp] if committed is None else max(committed, beginnings[tp])
        ranges[tp.partition] = Span(start, max(start, ends[tp]))
    return ranges


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
        polled = c.poll(timeout_ms=1000)
        for tp, records in polled.items():
            if tp in todo:
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


def commit(c: KafkaConsumer, topic: str, ranges: Ranges) -> None:
    """Move the group past `ranges` (one commit for every partition)."""
    c.commit({TopicPartition(topic, p): OffsetAndMetadata(span.end, "", -1)
              for p, span in ranges.items()})


def committed(c: KafkaConsumer, topic: str) -> dict[int, int | None]:
    return {tp.partition: c.committed(tp) for tp in partitions(c, topic)}


def lag(c: KafkaConsumer, topic: str) -> int:
    """Records the group has not committed past, over all partitions."""
    return sum(span.end - span.start for span in pending(c, topic).values())
