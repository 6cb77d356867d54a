"""KafkaPublisher against the real broker: records keep the partitions Kafka's Java client
(and kafka-python) would give their keys, and a refused request leaves nothing behind."""

from __future__ import annotations

import asyncio
import time
import uuid
from types import SimpleNamespace

import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.partitioner import DefaultPartitioner

from apps.api.publisher import MAX_REQUEST_BYTES, KafkaPublisher, KafkaUnavailable, Message
from apps.contract.models import TOPIC_PARTITIONS

pytestmark = pytest.mark.integration

READ_TIMEOUT_S = 60
PARTITIONS = list(range(TOPIC_PARTITIONS))


@pytest.fixture
def topic(stack):
    name = f"test-publisher-{uuid.uuid4().hex[:8]}"
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_servers)
    admin.create_topics([NewTopic(name, TOPIC_PARTITIONS, 1)])
    try:
        yield name
    finally:
        admin.delete_topics([name])
        admin.close()


def published(settings, topic: str, messages: list[Message], **overrides) -> None:
    async def publish() -> None:
        publisher = KafkaPublisher(settings.kafka_servers, 10.0, (topic,), overrides=overrides)
        try:
            await publisher.publish(messages)
        finally:
            await publisher.stop()

    asyncio.run(publish())


def read_all(settings, topic: str, *, settle_s: float = 0.0) -> list[tuple[int, bytes, bytes]]:
    """(partition, key, value) of every record in the topic, after waiting `settle_s`."""
    time.sleep(settle_s)
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, enable_auto_commit=False)
    try:
        partitions = [TopicPartition(topic, p) for p in PARTITIONS]
        end = consumer.end_offsets(partitions)
        consumer.assign(partitions)
        consumer.seek_to_beginning()
        records, deadline = [], time.monotonic() + READ_TIMEOUT_S
        while any(consumer.position(p) < end[p] for p in partitions):
            assert time.monotonic() < deadline, "the topic could not be read back"
            for batch in consumer.poll(timeout_ms=500).values():
                records += [(m.partition, m.key, m.value) for m in batch]
        return records
    finally:
        consumer.close()


def test_each_key_lands_on_the_partition_kafka_pythons_default_partitioner_picks(
        stack, topic):
    keys = [f"u-{i}".encode() for i in range(300)] + ["ユーザー 7".encode(), b"x" * 64]
    published(stack, topic, [Message(topic, key, b"{}") for key in keys])

    cluster = SimpleNamespace(topics=lambda: {topic},  # the metadata it reads: 3 partitions
                              partitions_for_topic=lambda _: set(PARTITIONS),
                              available_partitions_for_topic=lambda _: set(PARTITIONS))
    kafka_python = DefaultPartitioner()
    expected = sorted((kafka_python.partition(topic, key, key, b"{}", b"{}", cluster), key)
                      for key in keys)
    assert sorted((p, key) for p, key, _ in read_all(stack, topic)) == expected
    assert len({p for p, _ in expected}) == TOPIC_PARTITIONS  # the keys spread over all


def test_a_request_refused_midway_leaves_none_of_its_records_in_kafka(stack, topic):
    # The producer refuses the oversized third record at once; the first two are still
    # queued (a long linger keeps them there), and must be purged, never sent.
    messages = [Message(topic, b"u-1", b"{}"), Message(topic, b"u-2", b"{}"),
                Message(topic, b"u-3", b"x" * (MAX_REQUEST_BYTES + 1))]
    with pytest.raises(KafkaUnavailable, match="Kafka refused the records"):
        published(stack, topic, messages, **{"linger.ms": 2000})
    assert read_all(stack, topic, settle_s=4) == []
