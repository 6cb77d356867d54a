"""What Kafka says about a topic: its incarnation (topic id) and partitions, and the first
offset each partition still holds. Both paths out of Kafka (the events DAG, the purchase
stream) ask it before they read."""

from __future__ import annotations

from dataclasses import dataclass

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition

from apps.settings import Settings


@dataclass(frozen=True)
class TopicDescription:
    name: str
    topic_id: str  # new when the topic is deleted and created again
    partitions: list[int]


def describe_topic(settings: Settings, topic: str) -> TopicDescription:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers, request_timeout_ms=30_000)
    try:
        [described] = admin.describe_topics([topic])
    finally:
        admin.close()
    if described["error_code"] or not described.get("topic_id"):
        raise LookupError(f"Kafka topic {topic!r} does not exist")
    return TopicDescription(topic, str(described["topic_id"]),
                            sorted(p["partition_index"] for p in described["partitions"]))


def log_starts(settings: Settings, topic: str, partitions: list[int]) -> dict[int, int]:
    """Per partition, the first offset Kafka still holds (retention moves it up)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, enable_auto_commit=False)
    try:
        tps = [TopicPartition(topic, p) for p in partitions]
        return {tp.partition: offset for tp, offset in consumer.beginning_offsets(tps).items()}
    finally:
        consumer.close()
