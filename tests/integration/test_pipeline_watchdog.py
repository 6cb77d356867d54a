"""The watchdog against the real stack: the deployed DAG commits once on a topic, consumer
group and database of the test's own, then nothing runs it again while records wait (a
paused DAG, as far as that topic goes). The watchdog, run on those with a 5 s schedule,
posts one alert to a webhook on 127.0.0.1 and no second one while the condition lasts."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from kafka import KafkaConsumer, TopicPartition

from apps.settings import REPO_ROOT
from apps.user_events.airflow_api import AirflowApi
from tests.integration.test_user_events import job, known_events, send_events  # noqa: F401
from tests.integration.test_user_events_dag import wait_for_run

pytestmark = pytest.mark.integration

SCHEDULE_S = 5.0  # three of them: stale 15 s after the last commit


def waiting(settings, job) -> int:
    """Records past the group's committed offsets, read here with kafka-python."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, group_id=job.group_id,
                             enable_auto_commit=False)
    try:
        partitions = [TopicPartition(job.topic, p)
                      for p in consumer.partitions_for_topic(job.topic)]
        ends = consumer.end_offsets(partitions)
        return sum(ends[tp] - (consumer.committed(tp) or 0) for tp in partitions)
    finally:
        consumer.close()


def test_a_dag_that_stopped_committing_while_records_wait_alerts_once(stack, job, webhook):
    url, received = webhook
    send_events(stack, job.topic, known_events(30, seed=21, users=3))
    with AirflowApi(stack) as api:
        conf = {"topic": job.topic, "group_id": job.group_id, "database": job.database}
        assert wait_for_run(api, api.trigger(conf=conf)["dag_run_id"])["state"] == "success"
    send_events(stack, job.topic, known_events(20, seed=22, users=3))
    assert waiting(stack, job) == 20

    started = time.monotonic()
    watchdog = subprocess.run(
        [sys.executable, "-m", "apps.pipeline_status.watchdog", "--every", "2", "--rounds", "16",
         "--dag-schedule-seconds", str(SCHEDULE_S), "--topic", job.topic,
         "--group", job.group_id, "--database", job.database],
        cwd=REPO_ROOT, env={**os.environ, "ALERT_WEBHOOK_URL": url},
        capture_output=True, text=True, timeout=240)
    assert watchdog.returncode == 0, watchdog.stderr
    assert time.monotonic() - started > 3 * SCHEDULE_S + 4  # checks went on after the alert
    dag = [m for m in received if m["watchdog"] == "stale:user_events_dag"]
    assert len(dag) == 1, watchdog.stderr
    assert dag[0]["message"].startswith("user_events_dag is stale: last commit ")
    assert dag[0]["message"].endswith("(> 3 schedules) while 20 records wait")
    keys = [m["watchdog"] for m in received]
    assert len(keys) == len(set(keys)), keys  # every condition alerted once at most
