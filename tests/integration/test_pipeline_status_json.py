"""`invoke status --json` on the running stack: every stage, each figure equal to the
source it summarises as read here independently (Kafka with kafka-python, MongoDB with
pymongo, the lake with deltalake, PostgreSQL with psycopg2), within one refresh."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import psycopg2
import pymongo
import pytest
from kafka import KafkaConsumer, TopicPartition

from apps.contract.models import PURCHASES_TOPIC, USER_EVENTS_TOPIC
from apps.lake.tables import RAW_TABLE, open_table
from apps.mongo import DATA_LOSSES
from apps.pipeline_status.schema import SCHEMA, STAGES
from apps.settings import REPO_ROOT
from apps.user_events.identity import GROUP_ID

pytestmark = pytest.mark.integration


def status(environment: dict | None = None) -> tuple[dict, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "invoke", "status", "--json"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=60,
                            env={**os.environ, **(environment or {})})
    return json.loads(result.stdout), time.monotonic() - started


def kafka_offsets(settings) -> tuple[dict, dict]:
    """(end offsets per topic and partition, the DAG group's committed offsets)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, group_id=GROUP_ID,
                             enable_auto_commit=False)
    try:
        ends = {}
        for topic in (USER_EVENTS_TOPIC, PURCHASES_TOPIC):
            tps = [TopicPartition(topic, p) for p in sorted(consumer.partitions_for_topic(topic))]
            ends[topic] = {str(tp.partition): o for tp, o in consumer.end_offsets(tps).items()}
        committed = {p: consumer.committed(TopicPartition(USER_EVENTS_TOPIC, int(p))) or 0
                     for p in ends[USER_EVENTS_TOPIC]}
        return ends, committed
    finally:
        consumer.close()


def independent(settings) -> dict:
    ends, committed = kafka_offsets(settings)
    with pymongo.MongoClient(settings.mongo_url) as client:
        open_losses = client[settings.mongo_db][DATA_LOSSES].count_documents(
            {"AcknowledgedAt": None})
    with psycopg2.connect(settings.postgres_url) as conn, conn.cursor() as cur:
        cur.execute("SELECT lake_version FROM analysis_refreshes ORDER BY refresh_id DESC LIMIT 1")
        refreshed = cur.fetchone()
    table = open_table(settings, RAW_TABLE)
    return {"ends": ends, "committed": committed, "open_losses": open_losses,
            "refreshed": refreshed and refreshed[0], "lake_version": table and table.version()}


def figure(report: dict, stage: str, name: str):
    [entry] = [s for s in report["stages"] if s["stage"] == stage]
    return entry["figures"][name]["value"]


def test_status_json_has_every_stage_and_its_figures_match_their_sources(stack):
    before = independent(stack)
    report, _ = status()
    after = independent(stack)

    assert report["schema"] == SCHEMA
    assert [s["stage"] for s in report["stages"]] == list(STAGES)
    for stage in report["stages"]:
        # an earlier test may leave the generator stopped on purpose (`invoke up --skip`)
        allowed = ("healthy", "stale", "skipped") if stage["stage"] == "generator" \
            else ("healthy", "stale")
        assert stage["health"] in allowed, stage
        for value in stage["figures"].values():
            assert set(value) == {"value", "at", "age_seconds"} and value["age_seconds"] >= 0

    ends = figure(report, "kafka", "end_offsets")
    for topic in (USER_EVENTS_TOPIC, PURCHASES_TOPIC):
        for p, offset in ends[topic].items():
            assert before["ends"][topic][p] <= offset <= after["ends"][topic][p], (topic, p)
    lag = figure(report, "user_events_dag", "lag_records")
    low = sum(before["ends"][USER_EVENTS_TOPIC][p] - after["committed"][p]
              for p in after["committed"])
    high = sum(after["ends"][USER_EVENTS_TOPIC][p] - before["committed"][p]
               for p in before["committed"])
    assert low <= lag <= high
    assert figure(report, "losses", "open_losses") == before["open_losses"] == after["open_losses"]
    # the stream records a commit's figures just after making it
    assert before["lake_version"] - 1 <= figure(report, "lake", "raw_version") \
        <= after["lake_version"]
    if before["refreshed"] == after["refreshed"]:  # no refresh meanwhile
        assert figure(report, "analysis", "last_refresh_lake_version") == before["refreshed"]


def test_a_server_that_does_not_answer_is_down_with_its_reason_and_status_stays_quick(stack):
    """Kafka looked for on a port nothing listens on (the running broker is left alone)."""
    report, seconds = status({"KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9"})
    kafka = [s for s in report["stages"] if s["stage"] == "kafka"][0]
    assert kafka["health"] == "down"
    assert kafka["reason"].startswith("health check: no answer within")
    assert not report["ok"]
    assert seconds < 10
