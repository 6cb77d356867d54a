"""The DAG's steps against the real Kafka and FerretDB, on a topic, consumer group and
database of the test's own (the scheduled DAG never sees them)."""

from __future__ import annotations

import random
import uuid
from collections import Counter
from datetime import UTC, datetime, timedelta

import pymongo
import pytest
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from pymongo import monitoring

from apps.contract.models import (
    TOPIC_PARTITIONS, EventAttributes, EventName, UserEvent, kafka_key, kafka_value,
)
from apps.mongo import (
    PIPELINE_PROGRESS, USER_EVENT_COUNTS, USER_EVENTS, USER_EVENTS_DEAD_LETTER, ensure_collections,
)
from apps.user_events import kafka_io, pipeline
from apps.user_events.documents import Coordinates, event_document
from apps.user_events.mongo_io import COUNT_BULK

pytestmark = pytest.mark.integration


def known_events(n: int, seed: int, users: int = 12) -> list[UserEvent]:
    """Deterministic valid events: a few users, every event name."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
    events = []
    for i in range(n):
        price = round(rng.uniform(1, 500), 2)
        events.append(UserEvent(
            UserId=f"u-{seed}-{rng.randrange(users)}",
            SessionId=f"s-{seed}-{i // 5}",
            EventName=rng.choice(list(EventName)),
            TimeStamp=start + timedelta(seconds=i, microseconds=rng.randrange(1_000_000)),
            Attributes=EventAttributes(ProductId=f"p-{rng.randrange(40)}", Price=price,
                                       Discount=round(price * rng.choice((0, 0.1, 0.25)), 2)),
        ))
    return events


@pytest.fixture
def job(stack):
    """A topic, group and database of this test's own; deleted afterwards."""
    suffix = uuid.uuid4().hex[:10]
    job = pipeline.Job(topic=f"test-user-events-{suffix}", group_id=f"test-user-events-{suffix}",
                       database=f"test_user_events_{suffix}", mongo_timeout_ms=5000)
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_servers)
    admin.create_topics([NewTopic(job.topic, TOPIC_PARTITIONS, 1)])
    with pymongo.MongoClient(stack.mongo_url) as client:
        ensure_collections(client[job.database])
    yield job
    admin.delete_topics([job.topic])
    admin.close()
    with pymongo.MongoClient(stack.mongo_url, serverSelectionTimeoutMS=60_000) as client:
        client.drop_database(job.database)


@pytest.fixture
def db(stack, job):
    with pymongo.MongoClient(stack.mongo_url, tz_aware=True) as client:
        yield client[job.database]


def produce(settings, topic: str, messages: list[tuple[bytes | None, bytes | None]]
            ) -> list[Coordinates]:
    """Write the messages as the API does (key = UserId, acks=all); their coordinates."""
    producer = KafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all")
    futures = [producer.send(topic, key=key, value=value) for key, value in messages]
    producer.flush()
    producer.close()
    topic_id = kafka_io.topic_id(settings, topic)
    return [Coordinates(topic, m.partition, m.offset, topic_id)
            for m in (f.get(30) for f in futures)]


def send_events(settings, topic: str, events: list[UserEvent]) -> dict[str, UserEvent]:
    coordinates = produce(settings, topic, [(kafka_key(e), kafka_value(e)) for e in events])
    return {at.document_id: e for at, e in zip(coordinates, events)}


def stored_events(db) -> dict[str, dict]:
    return {d["_id"]: d for d in db[USER_EVENTS].find()}


def recount(db) -> dict[tuple[str, str], int]:
    """A full recount of `user_events`, done here by reading every document."""
    return dict(Counter((d["UserId"], d["EventName"]) for d in db[USER_EVENTS].find()))


def counts(db) -> dict[tuple[str, str], int]:
    docs = list(db[USER_EVENT_COUNTS].find())
    assert all(d["_id"] == f"{d['EventName']}:{d['UserId']}" for d in docs)
    return {(d["UserId"], d["EventName"]): d["EventCount"] for d in docs}


def expected_counts(sent: dict[str, UserEvent]) -> dict[tuple[str, str], int]:
    return dict(Counter((e.UserId, e.EventName.value) for e in sent.values()))


def assert_landed_exactly(db, sent: dict[str, UserEvent]) -> None:
    stored = stored_events(db)
    assert set(stored) == set(sent)
    for doc_id, event in sent.items():
        topic, partition, offset = doc_id.rsplit(":", 2)
        topic, tagged, topic_id = topic.partition("@")
        at = Coordinates(topic, int(partition), int(offset),
                         topic_id or stored[doc_id]["Kafka"]["TopicId"], bool(tagged))
        expected = event_document(event, at, stored[doc_id]["IngestedAt"])
        assert stored[doc_id] == expected
    assert counts(db) == recount(db) == expected_counts(sent)


def committed(settings, job) -> dict[int, int | None]:
    with kafka_io.consumer(settings, job.group_id) as c:
        return kafka_io.committed(c, job.topic)


def ends(settings, job) -> dict[int, int]:
    with kafka_io.consumer(settings, None) as c:
        return kafka_io.end_offsets(c, job.topic)


def test_one_run_lands_every_event_as_sent_and_counts_equal_a_recount(stack, job, db):
    sent = send_events(stack, job.topic, known_events(300, seed=1))
    figures = pipeline.run_once(stack, job)
    assert_landed_exactly(db, sent)
    assert figures["land"] | {"seconds": 0} == {
        "topic": job.topic, "ranges": figures["land"]["ranges"], "read": 300, "inserted": 300,
        "topic_id": kafka_io.topic_id(stack, job.topic), "tagged": False,
        "already_present": 0, "dead_lettered": 0, "dead_letters_already_present": 0,
        "waiting": 0, "lost": 0, "seconds": 0}
    pairs = expected_counts(sent)
    assert figures["count"]["events"] == 300
    assert figures["count"]["pairs"] == figures["count"]["pairs_created"] == len(pairs)
    assert figures["count"]["users"] == len({user for user, _ in pairs})
    assert committed(stack, job) == ends(stack, job)
    assert db[USER_EVENTS_DEAD_LETTER].count_documents({}) == 0


def test_a_run_failing_before_its_commit_is_replayed_exactly_once(stack, job, db):
    sent = send_events(stack, job.topic, known_events(200, seed=2))
    # A run stored the events, then failed before counting: nothing committed.
    pipeline.land(stack, job)
    assert committed(stack, job) == {0: None, 1: None, 2: None}
    # The retry covers more records than the failed run did, then fails after counting.
    sent |= send_events(stack, job.topic, known_events(150, seed=3))
    landed = pipeline.land(stack, job)
    assert (landed["read"], landed["inserted"], landed["already_present"]) == (350, 150, 200)
    pipeline.count(stack, landed, job)
    assert committed(stack, job) == {0: None, 1: None, 2: None}
    assert counts(db) == expected_counts(sent)
    # The next run has still more and replays all of it: counted documents refuse what they
    # already hold and take the rest, per partition.
    sent |= send_events(stack, job.topic, known_events(100, seed=4))
    figures = pipeline.run_once(stack, job)
    assert figures["land"]["inserted"] == 100 and figures["land"]["already_present"] == 350
    assert_landed_exactly(db, sent)
    assert committed(stack, job) == ends(stack, job)


def snapshot(db) -> dict[str, list[dict]]:
    return {name: sorted(db[name].find(), key=lambda d: d["_id"])
            for name in (USER_EVENTS, USER_EVENT_COUNTS, USER_EVENTS_DEAD_LETTER)}


def test_a_run_with_nothing_new_and_a_replayed_run_change_nothing(stack, job, db):
    sent = send_events(stack, job.topic, known_events(200, seed=5))
    pipeline.run_once(stack, job)
    before = snapshot(db)
    again = pipeline.run_once(stack, job)
    assert (again["land"]["read"], again["count"]["pairs"], again["commit"]["records"]) == (0, 0, 0)
    assert snapshot(db) == before
    # The group's offsets moved back to the start: the whole range is read again, and
    # neither the events nor the counts change.
    with kafka_io.consumer(stack, job.group_id) as c:
        kafka_io.commit(c, job.topic, {p: kafka_io.Span(0, 0) for p in range(TOPIC_PARTITIONS)},
                        kafka_io.topic_id(stack, job.topic))
    replay = pipeline.run_once(stack, job)
    assert (replay["land"]["read"], replay["land"]["inserted"],
            replay["land"]["already_present"]) == (200, 0, 200)
    assert (replay["count"]["pairs_created"], replay["count"]["pairs_updated"]) == (0, 0)
    assert snapshot(db) == before
    assert_landed_exactly(db, sent)


POISON = [
    (b"u-x", b"not json at all"),
    (b"u-x", b'{"UserId": "u-x", "EventName": "AddedBasket"}'),
    (b"u-x", None),  # a tombstone
]


def test_poison_messages_go_to_the_dead_letter_collection_and_the_run_goes_on(stack, job, db):
    good = known_events(30, seed=6)
    messages, kinds = [], []
    for i, event in enumerate(good):
        messages.append((kafka_key(event), kafka_value(event)))
        kinds.append(event)
        if i % 10 == 0:
            bad = POISON[(i // 10) % len(POISON)]
            messages.append(bad)
            kinds.append(bad)
    bad_event = good[0].model_copy(update={"SessionId": ""})  # breaks the contract
    messages.append((b"u-1", kafka_value(bad_event)))
    kinds.append((b"u-1", kafka_value(bad_event)))
    coordinates = produce(stack, job.topic, messages)
    sent = {at.document_id: k for at, k in zip(coordinates, kinds) if isinstance(k, UserEvent)}
    poison = {at.document_id: k for at, k in zip(coordinates, kinds) if not isinstance(k, UserEvent)}

    figures = pipeline.run_once(stack, job)

    assert_landed_exactly(db, sent)
    assert figures["land"]["dead_lettered"] == len(poison) == 4
    dead = {d["_id"]: d for d in db[USER_EVENTS_DEAD_LETTER].find()}
    assert set(dead) == set(poison)
    for doc_id, (key, value) in poison.items():
        assert (dead[doc_id]["Key"], dead[doc_id]["Value"]) == (key, value)
        assert dead[doc_id]["Kafka"]["Offset"] == int(doc_id.rsplit(":", 1)[1])
    by_value = {d["Value"]: d["Error"] for d in dead.values()}
    assert "Invalid JSON" in by_value[b"not json at all"]
    assert "SessionId\n  Field required" in by_value[POISON[1][1]]
    assert "tombstone" in by_value[None]
    assert "SessionId\n  String should have at least 1 character" in by_value[kafka_value(bad_event)]
    assert committed(stack, job) == ends(stack, job)
    # A replay dead-letters nothing twice.
    with kafka_io.consumer(stack, job.group_id) as c:
        kafka_io.commit(c, job.topic, {p: kafka_io.Span(0, 0) for p in range(TOPIC_PARTITIONS)},
                        kafka_io.topic_id(stack, job.topic))
    replay = pipeline.run_once(stack, job)
    assert (replay["land"]["dead_lettered"], replay["land"]["dead_letters_already_present"]) == (0, 4)
    assert db[USER_EVENTS_DEAD_LETTER].count_documents({}) == 4
    # what `invoke status` shows: recorded by the run, not counted by status
    assert db[PIPELINE_PROGRESS].find_one({"_id": job.topic})["DeadLetters"] == 4


def test_mongodb_down_during_a_run_commits_nothing_and_the_next_run_lands_all(
        stack, job, db, service_control):
    sent = send_events(stack, job.topic, known_events(200, seed=7))
    landed = pipeline.land(stack, job)
    service_control.stop("mongo")
    try:
        with pytest.raises(pymongo.errors.ServerSelectionTimeoutError):
            pipeline.count(stack, landed, job)
        with pytest.raises(pymongo.errors.ServerSelectionTimeoutError):
            pipeline.run_once(stack, job)
    finally:
        service_control.start("mongo")
    assert committed(stack, job) == {0: None, 1: None, 2: None}
    figures = pipeline.run_once(stack, job)
    assert (figures["land"]["inserted"], figures["land"]["already_present"]) == (0, 200)
    assert_landed_exactly(db, sent)
    assert committed(stack, job) == ends(stack, job)


class Commands(monitoring.CommandListener):
    def __init__(self):
        self.seen: list[tuple[str, str]] = []

    def started(self, event):
        collection = event.command.get(event.command_name)
        self.seen.append((event.command_name, collection if isinstance(collection, str) else ""))

    def succeeded(self, event):
        pass

    def failed(self, event):
        pass


def test_counting_reads_no_history_and_writes_in_bulks_of_the_new_pairs(stack, job, db):
    send_events(stack, job.topic, known_events(600, seed=8))
    pipeline.run_once(stack, job)  # the history
    new = send_events(stack, job.topic, known_events(40, seed=9))
    landed = pipeline.land(stack, job)
    listener = Commands()
    monitoring.register(listener)  # clients made from now on report their commands
    try:
        figures = pipeline.count(stack, landed, job)
    finally:
        monitoring._LISTENERS.command_listeners.remove(listener)
    writes = [c for c in listener.seen if c[0] not in ("ismaster", "hello", "endSessions")]
    pairs = len(expected_counts(new))
    assert figures["pairs"] == pairs
    # One `update` per bulk of COUNT_BULK pairs on the counts, nothing else: no read of
    # user_events, whatever its size.
    assert writes == [("update", USER_EVENT_COUNTS)] * -(-pairs // COUNT_BULK)
