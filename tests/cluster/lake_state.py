"""Prints, as JSON, what the active profile's pipeline holds of `PurchasedItem`: the
topic's end offsets and id, and the raw table's version, rows and marks, once the stream
has caught up with the topic. Run in a profile with `STACK_PROFILE=<name>`."""

import json
import sys
import time

from confluent_kafka import Consumer, TopicPartition

from apps.contract.models import PURCHASES_TOPIC, TOPIC_PARTITIONS
from apps.kafka_admin import describe_topic
from apps.lake import tables
from apps.lake.tables import RAW_TABLE
from apps.settings import get_settings
from apps.stack.paths import PROFILE

CATCH_UP_S = 600


def end_offsets(settings) -> dict[int, int]:
    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                         "group.id": "tests-lake-state"})
    try:
        return {p: consumer.get_watermark_offsets(TopicPartition(PURCHASES_TOPIC, p),
                                                  timeout=10)[1]
                for p in range(TOPIC_PARTITIONS)}
    finally:
        consumer.close()


def main() -> None:
    settings = get_settings()
    topic_id = describe_topic(settings, PURCHASES_TOPIC).topic_id
    ends = end_offsets(settings)
    deadline = time.monotonic() + CATCH_UP_S
    while True:
        marks = tables.committed_marks(settings, RAW_TABLE, PURCHASES_TOPIC, topic_id)
        held = {p: marks.ends.get(p, 0) for p in ends}
        if all(held[p] >= ends[p] for p in ends):
            break
        if time.monotonic() > deadline:
            sys.exit(f"the stream did not catch up in {CATCH_UP_S} s: {held} < {ends}")
        time.sleep(5)
    rows = tables.read(settings, RAW_TABLE)
    print(json.dumps({"profile": PROFILE.name, "topic_id": topic_id, "ends": ends,
                      "marks": held, "version": tables.snapshot(settings, RAW_TABLE).version,
                      "rows": 0 if rows is None else rows.num_rows}))


if __name__ == "__main__":
    main()
