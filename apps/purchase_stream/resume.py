"""Where the stream starts: from its checkpoint, or, without one, from what the lake holds.

A checkpoint belongs to one incarnation of the topic: a topic deleted and created again
starts its offsets over, so a checkpoint of the old one is moved aside (kept, never
deleted) and the stream starts on the new topic from the lake's marks for it (none yet:
the earliest offset). Without a checkpoint (deleted, or a fresh clone on an existing
bucket), the stream starts at the raw table's marks: never from the earliest (the lake
would hold those rows already; the marks skip them anyway) or the latest (a gap).

A topic created anew takes with it what the stream had not written of the old one: that
is recorded as lost ("at least": up to the end offsets its last batch saw) and alerted
once, and the stream goes on with the new topic, as the events DAG does.

Records Kafka deleted before the stream read them (retention overtook a stopped job) are
never skipped in silence: the job records the lost ranges in `data_losses`, alerts once,
and stops with EXIT_DATA_LOST, which supervisord does not restart. Once an operator has
acknowledged them (`invoke losses --ack`), `invoke up` starts it again past the gap.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from apps import losses
from apps.kafka_admin import TopicDescription, describe_topic, log_starts
from apps.lake.marks import Marks
from apps.lake.tables import QUARANTINE_TABLE, RAW_TABLE, adopt_plain_parquet, committed_marks
from apps.purchase_stream.config import StreamConfig
from apps.purchase_stream.progress import last_seen_ends
from apps.settings import Settings

log = logging.getLogger(__name__)
EARLIEST = -2  # the Kafka source's word for a partition's first offset
SOURCE = "purchase_stream"


class DataLost(RuntimeError):
    """Records were deleted before the stream read them, and nobody acknowledged it yet."""


def next_offsets(topic: TopicDescription, marks: dict[str, Marks]) -> dict[int, int]:
    """Per partition the lake holds records of, the first offset it has not read."""
    return {p: max(m.ends.get(p, 0) for m in marks.values())
            for p in topic.partitions if any(p in m.ends for m in marks.values())}


def starting_offsets(topic: TopicDescription, raw: Marks) -> str:
    """The Kafka source's `startingOffsets` (used only when there is no checkpoint)."""
    return json.dumps({topic.name: {str(p): raw.ends.get(p, EARLIEST) for p in topic.partitions}})


def topic_marker(checkpoint: Path) -> Path:
    return checkpoint.with_name(f"{checkpoint.name}.topic-id")


def guard_checkpoint(checkpoint: Path, topic_id: str) -> str | None:
    """Move a checkpoint of another incarnation of the topic aside; returns the id of the
    incarnation the stream last ran on when it was another (None: same, or first run)."""
    marker = topic_marker(checkpoint)
    was = marker.read_text().strip() if marker.exists() else None
    if checkpoint.exists() and was is not None and was != topic_id:
        moved = checkpoint.with_name(f"{checkpoint.name}.topic-{was}")
        checkpoint.rename(moved)
        log.warning("the topic was created anew (id %s, was %s): its old checkpoint is kept at "
                    "%s; the stream starts on the new topic", topic_id, was, moved)
    return was if was is not None and was != topic_id else None


def remember_incarnation(checkpoint: Path, topic_id: str) -> None:
    """Written only once the old incarnation is settled: a start that dies before that
    settles it again (the same ranges, stored and alerted once)."""
    marker = topic_marker(checkpoint)
    marker.parent.mkdir(parents=True, exist_ok=True)
    marker.write_text(topic_id)


def settle_old_incarnation(settings: Settings, config: StreamConfig, old_topic_id: str
                           ) -> list[losses.LostRange]:
    """The topic was deleted and created again since the stream last ran: what it had not
    written of the old incarnation (from the raw marks up to the end offsets its last batch
    saw, "at least") is recorded as lost and alerted once. The stream goes on with the
    new topic: the old records are gone, and stopping would not bring them back."""
    raw = committed_marks(settings, RAW_TABLE.under(config.root), config.topic, old_topic_id)
    lost = losses.lost_with_old_incarnation(
        SOURCE, config.topic, old_topic_id, raw.ends,
        last_seen_ends(config.progress_file, config.topic, old_topic_id))
    if lost:
        record_losses(settings, lost)
        log.error("the old topic took records the stream never wrote: %s",
                  "; ".join(loss.describe() for loss in lost))
    return lost


def record_losses(settings: Settings, lost: list[losses.LostRange]) -> set[str]:
    """Store and alert (once) each lost range; the ids of those not yet acknowledged."""
    from apps.mongo import DATA_LOSSES
    from apps.user_events.mongo_io import client

    with client(settings, serverSelectionTimeoutMS=30_000) as mongo:
        collection = mongo[settings.mongo_db][DATA_LOSSES]
        losses.record(collection, lost, datetime.now(UTC), settings.alert_webhook_url)
        return {d["_id"] for d in losses.open_losses(collection)}


def check_losses(settings: Settings, topic: TopicDescription, marks: dict[str, Marks]
                 ) -> dict[int, int]:
    """Per partition, the offset a start must get past without Spark failing on data loss:
    empty when nothing is missing; the first offsets Kafka still holds where what is missing
    was recorded and acknowledged (resume past it). Raises DataLost otherwise."""
    wanted = next_offsets(topic, marks)
    lost = losses.losses_between(SOURCE, topic.name, topic.topic_id, wanted,
                                 log_starts(settings, topic.name, sorted(wanted)))
    if not lost:
        return {}
    still_open = record_losses(settings, lost)
    unacknowledged = [loss for loss in lost if loss.id in still_open]
    if unacknowledged:
        raise DataLost("; ".join(loss.describe() for loss in unacknowledged) +
                       ". Recorded in data_losses and alerted; `invoke losses --ack`, then "
                       "`invoke up`, resumes the stream past them")
    log.warning("resuming past acknowledged losses: %s",
                "; ".join(loss.describe() for loss in lost))
    return {loss.partition: loss.end for loss in lost}


def passed_gaps(end_offsets: dict, topic: str, gaps: dict[int, int]) -> bool:
    """Whether a batch's end offsets (a progress's `endOffset`: {topic: {"p": offset}}) are
    past every acknowledged gap."""
    ends = end_offsets.get(topic, {})
    return all(int(ends.get(str(p), -1)) >= end for p, end in gaps.items())


@dataclass(frozen=True)
class StartPoint:
    topic: TopicDescription
    marks: dict[str, Marks]  # by table area: what each table holds of this incarnation
    starting_offsets: str
    # Acknowledged gaps to get past (partition -> first offset Kafka holds): only until
    # then may Spark skip missing offsets (apps/purchase_stream/query.run).
    gaps: dict[int, int] = field(default_factory=dict)

    @property
    def fail_on_data_loss(self) -> bool:
        return not self.gaps


def lake_marks(settings: Settings, config: StreamConfig, topic: TopicDescription
               ) -> dict[str, Marks]:
    """What each table holds of this incarnation of the topic."""
    return {t.area: committed_marks(settings, t.under(config.root), topic.name, topic.topic_id)
            for t in (RAW_TABLE, QUARANTINE_TABLE)}


def prepare(settings: Settings, config: StreamConfig) -> StartPoint:
    topic = describe_topic(settings, config.topic)
    tables = (RAW_TABLE.under(config.root), QUARANTINE_TABLE.under(config.root))
    for table in tables:
        if adopt_plain_parquet(settings, table):
            log.info("the plain Parquet files under %s are the Delta table's first version",
                     table.uri(settings))
    marks = lake_marks(settings, config, topic)
    old_topic_id = guard_checkpoint(config.checkpoint, topic.topic_id)
    if old_topic_id is not None:
        settle_old_incarnation(settings, config, old_topic_id)
    remember_incarnation(config.checkpoint, topic.topic_id)
    gaps = check_losses(settings, topic, marks)
    return StartPoint(topic, marks, starting_offsets(topic, marks[RAW_TABLE.area]), gaps)
