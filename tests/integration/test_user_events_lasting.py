"""The events DAG over time and operators: a capped backlog drains run after run, records
deleted before a run read them are a loss said out loud, a recreated topic lands as new
data. Real Kafka and FerretDB, on a topic, group and database of each test's own."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from dataclasses import replace
from datetime import UTC, datetime

import pytest
from kafka import KafkaAdminClient, TopicPartition

from apps.losses import RECREATED, RETENTION, open_losses
from apps.mongo import DATA_LOSSES, USER_EVENTS
from apps.settings import REPO_ROOT
from apps.user_events import kafka_io, pipeline, progress
from apps.user_events.status import progress_line
from tests.integration.test_user_events import (  # noqa: F401 - fixtures
    assert_landed_exactly, committed, counts, db, ends, expected_counts, job, known_events,
    recount, send_events,
)

pytestmark = pytest.mark.integration


def test_a_backlog_of_several_caps_drains_in_runs_within_the_cap_while_traffic_flows(
        stack, job, db):
    capped = replace(job, cap=1000)
    sent = send_events(stack, job.topic, known_events(4500, seed=21))
    stop = threading.Event()
    flowing: list[dict] = []

    def traffic():  # more events keep coming while the backlog drains
        seed = 100
        while not stop.is_set():
            flowing.append(send_events(stack, job.topic, known_events(150, seed=seed)))
            seed += 1
            time.sleep(0.5)

    sender = threading.Thread(target=traffic)
    sender.start()
    runs = []
    try:
        while len(runs) < 4:
            runs.append(pipeline.run_once(stack, capped)["land"])
    finally:
        stop.set()
        sender.join()
    assert all(r["read"] <= 1000 for r in runs)
    assert [r["read"] for r in runs] == [1000] * 4  # a backlog bigger than 4 caps
    assert runs[0]["waiting"] >= 3500 and runs[-1]["waiting"] >= 500
    state = progress.document(db, job.topic)
    assert state["WaitingRecords"] == runs[-1]["waiting"]
    assert state["WaitingSince"] is not None
    while (last := pipeline.run_once(stack, capped)["land"])["waiting"] or last["read"]:
        assert last["read"] <= 1000
    for more in flowing:
        sent |= more
    assert_landed_exactly(db, sent)
    assert committed(stack, job) == ends(stack, job)
    assert progress.document(db, job.topic)["WaitingRecords"] == 0


def delete_records(settings, topic: str, before: dict[int, int]) -> None:
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers)
    try:
        admin.delete_records({TopicPartition(topic, p): offset for p, offset in before.items()})
    finally:
        admin.close()


def test_records_deleted_before_a_run_are_stored_alerted_once_shown_and_acknowledged(
        stack, job, db, webhook):
    url, received = webhook
    settings = stack.model_copy(update={"alert_webhook_url": url})
    first = send_events(settings, job.topic, known_events(90, seed=31))
    pipeline.run_once(settings, job)
    later = send_events(settings, job.topic, known_events(120, seed=32))
    done, end = committed(settings, job), ends(settings, job)
    # Retention takes half the new records of partition 0, all but the last of partition 2.
    assert all(end[p] - done[p] >= 4 for p in (0, 2)), (done, end)
    cut = {0: done[0] + (end[0] - done[0]) // 2, 2: end[2] - 1}
    delete_records(settings, job.topic, cut)

    figures = pipeline.run_once(settings, job)

    expected_lost = {p: (done[p], cut[p]) for p in cut}
    stored = sorted(db[DATA_LOSSES].find(), key=lambda d: d["Partition"])
    assert [(d["Partition"], d["FirstOffset"], d["EndOffset"], d["Records"], d["Reason"])
            for d in stored] == [(p, a, b, b - a, RETENTION)
                                 for p, (a, b) in sorted(expected_lost.items())]
    assert figures["land"]["lost"] == sum(b - a for a, b in expected_lost.values())
    assert sorted((m["partition"], m["first_offset"], m["end_offset"]) for m in received) == \
        sorted((p, a, b) for p, (a, b) in expected_lost.items())
    # Nothing else is lost: every record Kafka still held landed and is counted.
    survivors = {i: e for i, e in later.items()
                 if not any(i.endswith(f":{p}:{o}") for p, (a, b) in expected_lost.items()
                            for o in range(a, b))}
    assert_landed_exactly(db, first | survivors)
    assert progress_line(progress.document(db, job.topic), open_losses(db[DATA_LOSSES]),
                         datetime.now(UTC)).endswith(
        f"{figures['land']['lost']:,} records LOST in 2 ranges (`invoke losses`)")

    pipeline.run_once(settings, job)  # found again: stored and alerted once only
    assert db[DATA_LOSSES].count_documents({}) == 2 and len(received) == 2

    env = {**os.environ, "MONGO_DB": job.database}  # the command, on this test's database
    listed = subprocess.run([sys.executable, "-m", "invoke", "losses", "--ack"], cwd=REPO_ROOT,
                            env=env, capture_output=True, text=True, timeout=120)
    assert listed.returncode == 0, listed.stdout + listed.stderr
    assert "acknowledged 2 losses" in listed.stdout
    assert open_losses(db[DATA_LOSSES]) == []
    again = subprocess.run([sys.executable, "-m", "invoke", "losses"], cwd=REPO_ROOT, env=env,
                           capture_output=True, text=True, timeout=120)
    assert "no open loss" in again.stdout


def test_a_recreated_topic_lands_as_new_data_and_old_documents_stay(stack, job, db,
                                                                  recreate_topic):
    old = send_events(stack, job.topic, known_events(150, seed=41))
    pipeline.run_once(stack, job)
    before = {d["_id"]: d for d in db[USER_EVENTS].find()}
    # A run lands 50 of the next 60 records (its cap), then the topic is deleted and
    # created again under it, between its land and its count.
    next_ = send_events(stack, job.topic, known_events(60, seed=42))
    landed = pipeline.land(stack, replace(job, cap=50))
    recreate_topic(stack, job.topic)
    with pytest.raises(kafka_io.TopicChanged, match="deleted and created again"):
        pipeline.count(stack, landed, job)
    with pytest.raises(kafka_io.TopicChanged, match="deleted and created again"):
        pipeline.commit(stack, landed, job)

    sent = send_events(stack, job.topic, known_events(80, seed=43))
    figures = pipeline.run_once(stack, job)

    # The same offsets as old records: the later incarnation's ids name its topic id.
    topic_id = kafka_io.topic_id(stack, job.topic)
    new = {i.replace(job.topic, f"{job.topic}@{topic_id}", 1): e for i, e in sent.items()}
    assert (figures["land"]["tagged"], figures["land"]["topic_id"]) == (True, topic_id)
    assert figures["land"]["read"] == 80 and set(new).isdisjoint(old)
    ranges = {int(p): range(a, b) for p, (a, b) in landed["ranges"].items()}
    stranded = {i: e for i, e in next_.items()
                if int(i.rsplit(":", 2)[2]) in ranges[int(i.rsplit(":", 2)[1])]}
    assert len(stranded) == 50
    # The stranded run's events were counted from the store; the old documents are as
    # they were; the 10 records no run read went with the old topic: a loss, said.
    assert_landed_exactly(db, old | stranded | new)
    assert all(db[USER_EVENTS].find_one({"_id": i}) == d for i, d in before.items())
    lost = list(db[DATA_LOSSES].find())
    assert {(d["Reason"], d["AtLeast"], d["TopicId"]) for d in lost} == {
        (RECREATED, True, landed["topic_id"])}
    assert sum(d["Records"] for d in lost) == 10
