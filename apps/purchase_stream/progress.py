"""The query's progress as the job records it after each batch (listener.py writes it): a
small JSON file that `invoke status` and a restarted job read. No PySpark here: status
imports this."""

from __future__ import annotations

import json
from pathlib import Path

from apps.settings import Settings


def offsets(value) -> dict:
    """A Kafka source's offsets in a progress: JSON text or already a mapping (or None)."""
    return json.loads(value) if isinstance(value, str) else (value or {})


def summary(progress: dict, topic_id: str = "") -> dict:
    """What status needs from a StreamingQueryProgress (its JSON form), and what a start
    after the topic was created anew needs to know of the old one (its id, the end offsets
    the stream last saw)."""
    [source] = progress["sources"]  # one Kafka source
    end = offsets(source["endOffset"])
    return {
        "batch_id": progress["batchId"],
        "timestamp": progress["timestamp"],
        "input_rows": progress["numInputRows"],
        "input_rows_per_second": progress.get("inputRowsPerSecond") or 0.0,
        "processed_rows_per_second": progress.get("processedRowsPerSecond") or 0.0,
        "duration_ms": progress.get("durationMs", {}).get("triggerExecution"),
        "end_offsets": end,  # {topic: {partition: next offset}}
        "latest_offsets": offsets(source.get("latestOffset")),  # the topic's, at planning
        "topic_id": topic_id,
    }


def behind(end_offsets: dict[str, dict[str, int]], latest: dict[tuple[str, int], int]) -> int:
    """Records the topic holds past the last batch (`latest`: the topic's end offsets)."""
    done = {(topic, int(p)): offset for topic, parts in end_offsets.items()
            for p, offset in parts.items()}
    return sum(end - done.get(tp, 0) for tp, end in latest.items())


def last_seen_ends(path: Path, topic: str, topic_id: str) -> dict[int, int]:
    """Per partition, the furthest end offset of `topic`'s incarnation `topic_id` the last
    recorded batch saw; empty when the file is of another incarnation, or none."""
    try:
        line = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    if line.get("topic_id") != topic_id:
        return {}
    seen: dict[int, int] = {}
    for key in ("end_offsets", "latest_offsets"):
        for partition, offset in line.get(key, {}).get(topic, {}).items():
            seen[int(partition)] = max(seen.get(int(partition), 0), offset)
    return seen


def topic_end_offsets(settings: Settings, topics: list[str]) -> dict[tuple[str, int], int]:
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, request_timeout_ms=5000)
    try:
        partitions = [TopicPartition(t, p) for t in topics
                      for p in sorted(consumer.partitions_for_topic(t) or ())]
        return {(tp.topic, tp.partition): end
                for tp, end in consumer.end_offsets(partitions).items()}
    finally:
        consumer.close()
