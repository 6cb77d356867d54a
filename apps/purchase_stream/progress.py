"""The query's progress: one line in the log per batch, the last batch in a small JSON file,
and from that file the stream's line in `invoke status` (last batch, rows/s, lag)."""

from __future__ import annotations

import json
import logging
from datetime import datetime
from pathlib import Path

from pyspark.sql.streaming import StreamingQueryListener

from apps.lake.runs import write_atomically
from apps.settings import Settings

log = logging.getLogger("purchase_stream")


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


class ProgressFile(StreamingQueryListener):
    """Logs each batch and keeps the last one in `path` (replaced atomically)."""

    def __init__(self, path: Path, topic_id: str):
        self.path, self.topic_id = path, topic_id

    def onQueryStarted(self, event) -> None:
        log.info("query %s started (run %s)", event.id, event.runId)

    def onQueryProgress(self, event) -> None:
        line = summary(json.loads(event.progress.json), self.topic_id)
        log.info("batch %(batch_id)s: %(input_rows)s rows, %(input_rows_per_second).1f rows/s in, "
                 "%(processed_rows_per_second).1f rows/s processed, %(duration_ms)s ms", line)
        write_atomically(self.path, json.dumps(line))

    def onQueryIdle(self, event) -> None:
        pass

    def onQueryTerminated(self, event) -> None:
        log.warning("query %s terminated: %s", event.id, event.exception or "stopped")


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


def describe(line: dict, lag: int | None) -> str:
    at = datetime.fromisoformat(line["timestamp"].replace("Z", "+00:00")).strftime("%H:%M:%S")
    lag_text = "lag unknown" if lag is None else f"{lag:,} behind"
    return (f"batch {line['batch_id']} at {at} UTC: {line['input_rows']:,} rows, "
            f"{line['input_rows_per_second']:.1f} rows/s in; {lag_text}")


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


def activity(settings: Settings, path: Path) -> str | None:
    """The stream's line in `invoke status`, or None before its first batch."""
    try:
        line = json.loads(path.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return None
    try:
        lag = behind(line["end_offsets"], topic_end_offsets(settings, list(line["end_offsets"])))
    except Exception:  # status must answer even when Kafka does not
        lag = None
    return describe(line, lag)
