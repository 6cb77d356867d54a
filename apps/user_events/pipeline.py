"""The three steps of a run, composed from the pure functions and the edges.

Each step takes the settings and a `Job` (which topic, consumer group and database: the
DAG uses the defaults, tests and benchmarks their own) and returns its figures as a small
JSON-able dict. Steps share only what `land` decided (a `RunRange`: offset ranges of one
incarnation of the topic, in land's figures): `count` and `commit` take it, so a step
retried alone works on exactly the same records, and stops if the topic changed under it.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from apps import losses
from apps.contract.models import USER_EVENTS_TOPIC

from apps.mongo import (
    DATA_LOSSES, USER_EVENT_COUNTS, USER_EVENTS, USER_EVENTS_DEAD_LETTER,
)
from apps.settings import Settings
from apps.user_events import kafka_io, mongo_io, progress
from apps.user_events.counts import Ranges, RunRange, records_in, tally
from apps.user_events.documents import Coordinates, parse_event, to_document
from apps.user_events.identity import GROUP_ID
from apps.user_events.plan import SOURCE, plan_run

log = logging.getLogger(__name__)

INSERT_CHUNK = 2000
# Inserts run in a writer thread while the next records are read and parsed; at most this
# many chunks wait, which bounds memory whatever the backlog.
INSERTS_IN_FLIGHT = 2


@dataclass(frozen=True)
class Job:
    topic: str = USER_EVENTS_TOPIC
    group_id: str = GROUP_ID
    database: str | None = None  # None: MONGO_DB from .env
    mongo_timeout_ms: int = 30_000
    cap: int | None = None  # records a run takes at most; None: USER_EVENTS_RUN_CAP

    @classmethod
    def from_params(cls, params: dict | None) -> Job:
        """A DAG run's job: the pipeline's own, unless the run's conf names a topic, group
        and database of its own (tests trigger the deployed DAG that way)."""
        params = params or {}
        return cls(topic=params.get("topic") or USER_EVENTS_TOPIC,
                   group_id=params.get("group_id") or GROUP_ID,
                   database=params.get("database") or None)

    def db(self, client, settings: Settings):
        return client[self.database or settings.mongo_db]

    def mongo(self, settings: Settings):
        return mongo_io.client(settings, serverSelectionTimeoutMS=self.mongo_timeout_ms)


class _Writer:
    """Insert chunks in one background thread, a bounded number at a time."""

    def __init__(self, pool: ThreadPoolExecutor, collection):
        self.pool, self.collection = pool, collection
        self.inflight: deque[Future] = deque()
        self.inserted = self.already_present = 0

    def submit(self, documents: list[dict]) -> None:
        while len(self.inflight) >= INSERTS_IN_FLIGHT:
            self._collect(self.inflight.popleft())
        self.inflight.append(self.pool.submit(mongo_io.insert_new, self.collection, documents))

    def drain(self) -> None:
        while self.inflight:
            self._collect(self.inflight.popleft())

    def _collect(self, future: Future) -> None:
        inserted, present = future.result()
        self.inserted += inserted
        self.already_present += present


def land(settings: Settings, job: Job = Job()) -> dict:
    """Store what the group has pending, at most the run's cap of it, up to the end
    offsets of now; record lost ranges and the lag; commit nothing."""
    started = time.monotonic()
    ingested_at = datetime.now(UTC)
    topic_id = kafka_io.topic_id(settings, job.topic)
    with kafka_io.consumer(settings, job.group_id) as consumer, job.mongo(settings) as client:
        db = job.db(client, settings)
        state = progress.read(db, job.topic)
        if state.topic_id and state.topic_id != topic_id:
            _settle_old_incarnation(settings, db, job.topic, state)
        tagged = progress.first_topic_id(db, job.topic, topic_id) != topic_id
        log_starts, ends = kafka_io.log_bounds(consumer, job.topic)
        planned = plan_run(job.topic, topic_id,
                           kafka_io.committed_offsets(consumer, job.topic, topic_id),
                           log_starts, ends, job.cap or settings.user_events_run_cap)
        losses.record(db[DATA_LOSSES], planned.lost, ingested_at, settings.alert_webhook_url)
        run = RunRange(planned.ranges, topic_id, tagged)
        read = dead_new = dead_present = 0
        buffer: list[dict] = []
        with ThreadPoolExecutor(1, thread_name_prefix="insert") as pool:
            writer = _Writer(pool, db[USER_EVENTS])
            for batch in kafka_io.read(consumer, job.topic, run.ranges):
                dead = []
                for record in batch:
                    at = Coordinates(record.topic, record.partition, record.offset, topic_id,
                                     tagged)
                    valid, document = to_document(record.key, record.value, at, ingested_at)
                    (buffer if valid else dead).append(document)
                read += len(batch)
                if dead:
                    n, present = mongo_io.insert_new(db[USER_EVENTS_DEAD_LETTER], dead)
                    dead_new, dead_present = dead_new + n, dead_present + present
                    log.warning("dead-lettered %d messages, e.g. %s: %s", len(dead),
                                dead[0]["_id"], dead[0]["Error"][:200])
                if len(buffer) >= INSERT_CHUNK:
                    writer.submit(buffer)
                    buffer = []
            if buffer:
                writer.submit(buffer)
            writer.drain()
        waiting_since = _oldest_waiting(consumer, job.topic, run.ranges, ends)
        # the dead letters stored by then, as `invoke status` shows them: the collection's
        # count from its metadata, exact whichever run stored them (a replay stores none)
        progress.landed(db, job.topic, run, ends, planned.waiting, waiting_since, ingested_at,
                        db[USER_EVENTS_DEAD_LETTER].estimated_document_count())
    figures = {
        "topic": job.topic, **run.to_json(), "read": read,
        "inserted": writer.inserted, "already_present": writer.already_present,
        "dead_lettered": dead_new, "dead_letters_already_present": dead_present,
        "waiting": planned.waiting, "lost": sum(loss.records for loss in planned.lost),
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("landed %s", figures)
    return figures


def _oldest_waiting(consumer, topic: str, ranges: Ranges, ends: dict[int, int]
                    ) -> datetime | None:
    """When the oldest record this run left for later (past its cap) entered Kafka."""
    left = {p: span.end for p, span in ranges.items() if span.end < ends[p]}
    if not left:
        return None
    stamps = kafka_io.timestamps_at(consumer, topic, left)
    return datetime.fromtimestamp(min(stamps.values()) / 1000, UTC) if stamps else None


def _settle_old_incarnation(settings: Settings, db, topic: str, state: progress.State) -> None:
    """The topic was deleted and created again since the last run: count what that run
    landed but never counted (from the stored documents: the old records are gone from
    Kafka), and record what no run read as lost."""
    if state.landed is not None and not state.committed_landed:
        pairs = tally(mongo_io.stored_events(db[USER_EVENTS], topic, state.landed))
        mongo_io.apply_counts(db[USER_EVENT_COUNTS], pairs.values(), state.landed.ranges,
                              state.landed.mark_prefix)
    read_up_to = {p: s.end for p, s in state.landed.ranges.items()} if state.landed else {}
    lost = losses.lost_with_old_incarnation(SOURCE, topic, state.topic_id, read_up_to,
                                            state.ends)
    losses.record(db[DATA_LOSSES], lost, datetime.now(UTC), settings.alert_webhook_url)
    progress.forget_incarnation(db, topic)


def _valid_events(settings: Settings, job: Job, ranges: Ranges):
    """(partition, offset, UserId, EventName) of every valid event in `ranges`, from Kafka
    again: counting never reads `user_events`, whose size is the whole history."""
    with kafka_io.consumer(settings, None) as consumer:
        for batch in kafka_io.read(consumer, job.topic, ranges):
            for record in batch:
                try:
                    event = parse_event(record.value)
                except ValueError:
                    continue  # dead-lettered by land
                yield record.partition, record.offset, event.UserId, event.EventName.value


def count(settings: Settings, landed: dict, job: Job = Job()) -> dict:
    """Fold the valid events of the run's range into `user_event_counts`, each exactly once."""
    started = time.monotonic()
    run = RunRange.from_json(landed)
    kafka_io.check_topic(settings, job.topic, run.topic_id)
    pairs = tally(_valid_events(settings, job, run.ranges))
    kafka_io.check_topic(settings, job.topic, run.topic_id)  # what was read was this topic's
    with job.mongo(settings) as client:
        changed = mongo_io.apply_counts(job.db(client, settings)[USER_EVENT_COUNTS],
                                        pairs.values(), run.ranges, run.mark_prefix)
    figures = {
        "events": sum(len(o) for p in pairs.values() for o in p.offsets.values()),
        "pairs": len(pairs), "users": len({p.user_id for p in pairs.values()}),
        "pairs_created": changed.created, "pairs_updated": changed.updated,
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("counted %s", figures)
    return figures


def commit(settings: Settings, landed: dict, job: Job = Job()) -> dict:
    """Move the consumer group past the range: only after it was landed and counted."""
    run = RunRange.from_json(landed)
    kafka_io.check_topic(settings, job.topic, run.topic_id)
    with kafka_io.consumer(settings, job.group_id) as consumer:
        kafka_io.commit(consumer, job.topic, run.ranges, run.topic_id)
    with job.mongo(settings) as client:
        progress.committed(job.db(client, settings), job.topic, run, datetime.now(UTC))
    figures = {"committed": {str(p): s.end for p, s in run.ranges.items()},
               "records": records_in(run.ranges)}
    log.info("committed %s", figures)
    return figures


def run_once(settings: Settings, job: Job = Job()) -> dict:
    """land, count, commit in order, as one DAG run does (tests and benchmarks)."""
    landed = land(settings, job)
    counted = count(settings, landed, job)
    committed = commit(settings, landed, job)
    return {"land": landed, "count": counted, "commit": committed}
