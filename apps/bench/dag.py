"""`invoke bench dag`: what a run of the DAG's steps costs, beside a plain insert, in one run.

On a topic, consumer groups and databases of its own (deleted afterwards), with the
generator's traffic (its 2,000 users):

    (a) 100,000 events pending: `land` (read, parse, insert) against a plain `insert_many`
        of the same documents into the same server: events/s, ratio a/plain (goal >= 0.7);
        then `count` over those 100,000
    (b) one whole run (land, count, commit) of one schedule's default traffic (about 5,000
        events) and of ten times that: each must end well inside its 2 minutes
    (c) `count` of the same new events into a database with ten times the history of
        another: time ratio (goal <= 1.2, the cost follows the new events). Both histories
        hold the same (UserId, EventName) pairs, so both have as many count documents and
        the ratio measures the history's length only.
"""

from __future__ import annotations

import time
import uuid
from contextlib import contextmanager

import psutil
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from rich.console import Console
from rich.table import Table

from apps.bench.report import Figure
from apps.console import make_console
from apps.contract.models import TOPIC_PARTITIONS, UserEvent, kafka_key, kafka_value
from apps.generator.run import DEFAULT_PRODUCTS, DEFAULT_USERS
from apps.generator.traffic import TrafficBuilder
from apps.mongo import USER_EVENT_COUNTS, USER_EVENTS, ensure_collections
from apps.settings import Settings, get_settings
from apps.user_events import kafka_io, pipeline
from apps.user_events.counts import Span
from apps.user_events.documents import Coordinates, event_document
from apps.user_events.mongo_io import insert_new

BACKLOG = 100_000
PER_SCHEDULE = 5_000  # 2 minutes of the generator's default traffic
SMALL_HISTORY = 10_000
REFERENCE_CHUNK = pipeline.INSERT_CHUNK


def traffic(n: int, seed: int) -> list[UserEvent]:
    builder = TrafficBuilder(seed, DEFAULT_USERS, DEFAULT_PRODUCTS)
    events: list[UserEvent] = []
    while len(events) < n:
        events.extend(builder.batch(50).events)
    return events[:n]


def covering_tail(events: list[UserEvent], n: int) -> list[UserEvent]:
    """`events` with its last `n` rewritten so that they hold every (UserId, EventName) pair
    of the whole list: a history of the last `n` then has the same pairs as one of all."""
    pairs = sorted({(e.UserId, e.EventName) for e in events})
    if len(pairs) > n:
        raise ValueError(f"{len(pairs)} pairs do not fit in the last {n} events")
    tail = [e.model_copy(update={"UserId": user, "EventName": name})
            for e, (user, name) in zip(events[-n:], pairs)] + events[len(events) - n + len(pairs):]
    return events[:-n] + tail


def produce(settings: Settings, topic: str, events: list[UserEvent]) -> list[Coordinates]:
    producer = KafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all",
                             linger_ms=20, batch_size=256 * 1024)
    futures = [producer.send(topic, key=kafka_key(e), value=kafka_value(e)) for e in events]
    producer.flush()
    producer.close()
    return [Coordinates(topic, m.partition, m.offset) for m in (f.get(60) for f in futures)]


@contextmanager
def scratch(settings: Settings):
    """A topic and a name prefix for databases and groups, all removed afterwards."""
    suffix = uuid.uuid4().hex[:8]
    topic = f"bench-user-events-{suffix}"
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers)
    admin.create_topics([NewTopic(topic, TOPIC_PARTITIONS, 1)])
    databases: list[str] = []

    def job(name: str) -> pipeline.Job:
        databases.append(f"bench_{name}_{suffix}")
        with pipeline.Job().mongo(settings) as client:
            ensure_collections(client[databases[-1]])
        return pipeline.Job(topic=topic, group_id=f"bench-{name}-{suffix}",
                            database=databases[-1])

    try:
        yield topic, job
    finally:
        admin.delete_topics([topic])
        admin.close()
        with pipeline.Job().mongo(settings) as client:
            for name in databases:
                client.drop_database(name)


def timed(fn, *args):
    started = time.monotonic()
    result = fn(*args)
    return result, time.monotonic() - started


def plain_insert(settings: Settings, job: pipeline.Job, events, coordinates) -> float:
    """The reference: the same documents, built up front, `insert_many` in chunks."""
    from datetime import UTC, datetime

    now = datetime.now(UTC)
    documents = [event_document(e, at, now) for e, at in zip(events, coordinates)]
    with job.mongo(settings) as client:
        collection = job.db(client, settings)[USER_EVENTS]
        started = time.monotonic()
        for i in range(0, len(documents), REFERENCE_CHUNK):
            insert_new(collection, documents[i:i + REFERENCE_CHUNK])
        return time.monotonic() - started


def start_group_at(settings: Settings, job: pipeline.Job, offsets: dict[int, int]) -> None:
    """Commit the group at `offsets` (partition -> offset): what follows is pending."""
    incarnation = kafka_io.topic_id(settings, job.topic)
    with kafka_io.consumer(settings, job.group_id) as consumer:
        kafka_io.commit(consumer, job.topic, {p: Span(0, offsets.get(p, 0))
                                              for p in kafka_io.end_offsets(consumer, job.topic)},
                        incarnation)


def count_documents(settings: Settings, job: pipeline.Job) -> int:
    with job.mongo(settings) as client:
        return job.db(client, settings)[USER_EVENT_COUNTS].count_documents({})


def run(console: Console | None = None) -> list[Figure]:
    console = console or make_console()
    settings = get_settings()
    rows: list[tuple[str, int, float, str]] = []
    with scratch(settings) as (topic, job):
        big, small, reference = job("history"), job("small"), job("reference")
        backlog = covering_tail(traffic(BACKLOG, seed=1), SMALL_HISTORY)
        head = produce(settings, topic, backlog[:-SMALL_HISTORY])
        coordinates = head + produce(settings, topic, backlog[-SMALL_HISTORY:])

        landed, land_s = timed(pipeline.land, settings, big)
        plain_s = plain_insert(settings, reference, backlog, coordinates)
        counted, count_s = timed(pipeline.count, settings, landed, big)
        pipeline.commit(settings, landed, big)
        rows += [("(a) land: read, parse, insert", landed["inserted"], land_s, ""),
                 ("(a) plain insert_many, same documents", BACKLOG, plain_s, "reference"),
                 ("(a) count", counted["events"], count_s, f"{counted['pairs']:,} pairs")]
        
        # A database with a tenth of that history (its last part, which holds the same
        # pairs), its group then at the same offsets.
        start_group_at(settings, small, {p: 1 + max(c.offset for c in head if c.partition == p)
                                         for p in {c.partition for c in head}})
        pipeline.run_once(settings, small)
        documents = {j.database: count_documents(settings, j) for j in (small, big)}
        if len(set(documents.values())) != 1:
            raise AssertionError(f"the two histories' count documents differ: {documents}")

        produce(settings, topic, traffic(PER_SCHEDULE, seed=2))
        ranges = {"small": None, "history": None}
        for name, j in (("small", small), ("history", big)):
            ranges[name] = pipeline.land(settings, j)
        assert ranges["small"]["ranges"] == ranges["history"]["ranges"]
        small_count, small_s = timed(pipeline.count, settings, ranges["small"], small)
        big_count, big_s = timed(pipeline.count, settings, ranges["history"], big)
        for j in (small, big):
            pipeline.commit(settings, ranges["small"], j)
        rows += [(f"(c) count, history {SMALL_HISTORY:,}", small_count["events"], small_s,
                  f"{small_count['pairs']:,} pairs"),
                 (f"(c) count, history {BACKLOG:,}", big_count["events"], big_s,
                  f"{big_count['pairs']:,} pairs")]

        whole = {}
        for factor in (1, 10):
            produce(settings, topic, traffic(PER_SCHEDULE * factor, seed=3 + factor))
            figures, whole[factor] = timed(pipeline.run_once, settings, big)
            rows.append((f"(b) whole run, {factor}x default traffic", figures["land"]["read"],
                         whole[factor], f"land {figures['land']['seconds']:.1f} s, count "
                         f"{figures['count']['seconds']:.1f} s, {figures['count']['pairs']:,} pairs"))

    out = Table(title="shopstream DAG benchmark")
    for column in ("step", "events", "seconds", "events/s", "note"):
        out.add_column(column, justify="left" if column in ("step", "note") else "right")
    for name, n, seconds, note in rows:
        out.add_row(name, f"{n:,}", f"{seconds:.2f}", f"{n / seconds:,.0f}", note)
    console.print(out)
    result = [
        Figure("dag", "(a) land events/s", landed["inserted"] / land_s, "events/s",
               "plain insert_many events/s", BACKLOG / plain_s, ">= 0.7"),
        Figure("dag", f"(c) count s, history {BACKLOG:,}", big_s, "s",
               f"count s, history {SMALL_HISTORY:,} (same {documents[big.database]:,} "
               f"count documents)", small_s, "<= 1.2"),
        *(Figure("dag", f"(b) whole run, {factor}x default traffic", whole[factor], "s",
                 "schedule interval s", 120.0, "<= 0.5") for factor in (1, 10))]
    console.print(f"load average {' '.join(f'{x:.1f}' for x in psutil.getloadavg())}")
    return result
