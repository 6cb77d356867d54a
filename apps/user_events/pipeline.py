"""The three steps of a run, composed from the pure functions and the edges.

Each step takes the settings and a `Job` (which topic, consumer group and database: the
DAG uses the defaults, tests and benchmarks their own) and returns its figures as a small
JSON-able dict. Steps share only the offset ranges: `land` decides them, `count` and
`commit` take them, so a step retried alone works on exactly the same records.
"""

from __future__ import annotations

import logging
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime

from apps.contract.models import USER_EVENTS_TOPIC
from apps.mongo import USER_EVENT_COUNTS, USER_EVENTS, USER_EVENTS_DEAD_LETTER
from apps.settings import Settings
from apps.user_events import kafka_io, mongo_io
from apps.user_events.counts import Ranges, ranges_from_json, ranges_to_json, tally
from apps.user_events.documents import Coordinates, parse_event, to_document

log = logging.getLogger(__name__)

# The consumer group whose committed offsets say what has been landed and counted.
GROUP_ID = "shopstream-user-events-to-mongo"
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
    """Store what the group has pending, up to the end offsets of now; commit nothing."""
    started = time.monotonic()
    ingested_at = datetime.now(UTC)
    with kafka_io.consumer(settings, job.group_id) as consumer, job.mongo(settings) as client:
        db = job.db(client, settings)
        ranges = kafka_io.pending(consumer, job.topic)
        read = dead_new = dead_present = 0
        buffer: list[dict] = []
        with ThreadPoolExecutor(1, thread_name_prefix="insert") as pool:
            writer = _Writer(pool, db[USER_EVENTS])
            for batch in kafka_io.read(consumer, job.topic, ranges):
                dead = []
                for record in batch:
                    at = Coordinates(record.topic, record.partition, record.offset)
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
    figures = {
        "topic": job.topic, "ranges": ranges_to_json(ranges), "read": read,
        "inserted": writer.inserted, "already_present": writer.already_present,
        "dead_lettered": dead_new, "dead_letters_already_present": dead_present,
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("landed %s", figures)
    return figures


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


def count(settings: Settings, ranges_json: dict, job: Job = Job()) -> dict:
    """Fold the valid events of the range into `user_event_counts`, each exactly once."""
    started = time.monotonic()
    ranges = ranges_from_json(ranges_json)
    pairs = tally(_valid_events(settings, job, ranges))
    with job.mongo(settings) as client:
        changed = mongo_io.apply_counts(job.db(client, settings)[USER_EVENT_COUNTS],
                                        pairs.values(), ranges)
    figures = {
        "events": sum(len(o) for p in pairs.values() for o in p.offsets.values()),
        "pairs": len(pairs), "users": len({p.user_id for p in pairs.values()}),
        "pairs_created": changed.created, "pairs_updated": changed.updated,
        "seconds": round(time.monotonic() - started, 3),
    }
    log.info("counted %s", figures)
    return figures


def commit(settings: Settings, ranges_json: dict, job: Job = Job()) -> dict:
    """Move the consumer group past the range: only after it was landed and counted."""
    ranges = ranges_from_json(ranges_json)
    with kafka_io.consumer(settings, job.group_id) as consumer:
        kafka_io.commit(consumer, job.topic, ranges)
    figures = {"committed": {str(p): s.end for p, s in ranges.items()},
               "records": sum(s.end - s.start for s in ranges.values())}
    log.info("committed %s", figures)
    return figures


def run_once(settings: Settings, job: Job = Job()) -> dict:
    """land, count, commit in order, as one DAG run does (tests and benchmarks)."""
    landed = land(settings, job)
    counted = count(settings, landed["ranges"], job)
    committed = commit(settings, landed["ranges"], job)
    return {"land": landed, "count": counted, "commit": committed}
