"""`kill -9` of the stream while purchases keep arriving: afterwards every purchase is
exactly one row, for the `deltalake` library and for Spark.

Both run the job's own entry point on a scratch topic, prefix and checkpoint, never the
pipeline's. The first runs it as a separate OS process and kills it after a batch has
committed to the lake but before Spark committed that batch to its checkpoint: the replay
reads those records again. The second runs it under a supervisord, behind an API process, both
of the test's own, kills it and checks what the API accepted meanwhile.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from collections import Counter
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

import httpx
import pyarrow.compute as pc
import pytest
from kafka import KafkaConsumer, TopicPartition
from kafka.errors import KafkaError

from apps.api.local_server import running_api
from apps.contract.models import kafka_value
from apps.purchase_stream.config import JOB_ENV, job_argv
from apps.analysis.lake import read_lake
from apps.purchase_stream.progress import behind, topic_end_offsets
from apps.purchase_stream.store import s3a_url
from apps.settings import REPO_ROOT
from apps.stack.services.s3 import minio_client
from apps.stack.spec import Program
from tests.integration.test_purchase_stream_alert import own_supervisord
from tests.integration.test_purchase_stream_lake import (  # noqa: F401
    DAY,
    Scratch,
    lake_servers,
    purchases,
)

pytestmark = pytest.mark.integration

DEADLINE_S = 300
DAYS = 8  # purchases spread over several days: a batch writes a file per day
SUPERVISED = "stream-under-test"


def batch_ids(folder: Path) -> set[int]:
    return {int(p.name) for p in folder.glob("*") if p.name.isdigit()} if folder.exists() else set()


def start_job(scratch: Scratch, log: Path) -> subprocess.Popen:
    """The job's own entry point, on the scratch topic, prefix and checkpoint."""
    config = replace(scratch.config, trigger_seconds=1, max_offsets_per_trigger=500)
    return subprocess.Popen(job_argv(config), env={**os.environ, **JOB_ENV}, cwd=REPO_ROOT,
                            stdout=log.open("a"), stderr=subprocess.STDOUT,
                            start_new_session=True)


def kill_group(job: subprocess.Popen, sig: int) -> None:
    os.killpg(job.pid, sig)  # the Python driver and its JVM, as a crash takes both
    job.wait(timeout=60)


class Traffic(threading.Thread):
    """Every half second, CHUNK purchases over DAYS days and a poison record, until stopped
    (about 30 records/s: the job keeps up even on a busy 2-core machine)."""

    CHUNK = 2 * DAYS

    def __init__(self, scratch: Scratch):
        super().__init__(daemon=True)
        self.scratch = scratch
        self.stop = threading.Event()
        self.seed = 100

    def send_chunk(self) -> None:
        self.seed += 1
        self.scratch.send_purchases(purchases(self.CHUNK, self.seed, days=DAYS))
        self.scratch.send([b"poison"])

    def run(self) -> None:
        while not self.stop.is_set():
            try:
                self.send_chunk()
            except KafkaError:  # a broker outage: what reached Kafka is read back at the end
                pass
            time.sleep(0.5)


def wait_for(what: str, condition, deadline_s: float = DEADLINE_S, every_s: float = 0.5):
    deadline = time.monotonic() + deadline_s
    while not (result := condition()):
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {deadline_s:.0f} s waiting for {what}")
        time.sleep(every_s)
    return result


def test_kill_9_mid_batch_then_restart_every_purchase_once(lake_servers, spark, tmp_path):
    scratch = Scratch(lake_servers, tmp_path)
    config, log = scratch.config, tmp_path / "job.log"
    offsets, commits = config.checkpoint / "offsets", config.checkpoint / "commits"
    store, bucket = minio_client(lake_servers), lake_servers.s3_bucket
    traffic = Traffic(scratch)
    traffic.send_chunk()  # the first batch's records; the rest arrive while the job runs
    job = start_job(scratch, log)
    try:
        wait_for("the first committed batch", lambda: batch_ids(commits))
        traffic.start()

        seen: dict[int, int] = {}  # batch id -> lake commits when it was first seen running

        def lake_commits() -> int:
            return sum(o.object_name.endswith(".json") for area in ("raw", "quarantine")
                       for o in store.list_objects(bucket, f"{config.root}{area}/_delta_log/"))

        def batch_half_written() -> int | None:
            """A batch that has committed to the lake but not to Spark's checkpoint yet."""
            running = max(batch_ids(offsets), default=-1)
            if running in batch_ids(commits):
                return None
            commits_now = lake_commits()
            if seen.setdefault(running, commits_now) == commits_now:
                return None
            return None if running in batch_ids(commits) else running

        crashed = wait_for("a batch committed to the lake and not to its checkpoint",
                           batch_half_written, deadline_s=180, every_s=0.01)
        kill_group(job, signal.SIGKILL)
        assert crashed not in batch_ids(commits)
        job = start_job(scratch, log)
        wait_for(f"batch {crashed} replayed", lambda: crashed in batch_ids(commits))
        time.sleep(3)  # more purchases while the restarted job runs
        traffic.stop.set()
        traffic.join()

        def drained() -> bool:
            try:
                done = json.loads(config.progress_file.read_text())["end_offsets"]
            except (FileNotFoundError, json.JSONDecodeError):
                return False
            latest = topic_end_offsets(lake_servers, [config.topic])
            return behind(done, latest) == 0 and batch_ids(offsets) == batch_ids(commits)

        wait_for("the job to take every record", drained)
    finally:
        traffic.stop.set()
        if job.poll() is None:
            kill_group(job, signal.SIGTERM)
    try:
        # The guarantee: each Kafka record of the topic is exactly one row of the lake.
        records = topic_records(lake_servers, config.topic)
        raw, quarantine = scratch.read("raw"), scratch.read("quarantine")
        lake = Counter(zip(raw["kafka_partition"].to_pylist(), raw["kafka_offset"].to_pylist()))
        lake.update(zip(quarantine["kafka_partition"].to_pylist(),
                        quarantine["kafka_offset"].to_pylist()))
        assert [where for where, n in lake.items() if n > 1] == []
        assert set(lake) == set(records)
        expected = Counter(json.loads(v)["OrderId"] for v in records.values() if v != b"poison")
        assert Counter(raw["OrderId"].to_pylist()) == expected
        assert quarantine.num_rows == sum(v == b"poison" for v in records.values())
        frame = read_lake(spark, s3a_url(lake_servers, f"{config.root}raw/"),
                          lake_servers).purchases
        assert frame.count() == sum(expected.values())
        assert frame.select("OrderId").distinct().count() == len(expected)
    finally:
        scratch.close()


def topic_records(settings, topic: str) -> dict[tuple[int, int], bytes]:
    """Every record of a topic: (partition, offset) -> value."""
    latest = topic_end_offsets(settings, [topic])
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, enable_auto_commit=False)
    consumer.assign([TopicPartition(t, p) for t, p in latest])
    consumer.seek_to_beginning()
    records: dict[tuple[int, int], bytes] = {}
    deadline = time.monotonic() + 120
    while any(consumer.position(TopicPartition(t, p)) < end for (t, p), end in latest.items()):
        assert time.monotonic() < deadline, "could not read the topic back"
        for batch in consumer.poll(timeout_ms=1000).values():
            records.update({(r.partition, r.offset): r.value for r in batch})
    consumer.close()
    return records


def test_the_supervised_job_survives_kill_9_and_lands_api_purchases_once(lake_servers, spark,
                                                                         tmp_path):
    """The job under supervisord behind an API, as deployed, all three of the test's own (a
    supervisord, an API process, the scratch topic and prefix): the job killed with -9 is
    restarted, and every purchase the API accepted meanwhile is one row."""
    scratch = Scratch(lake_servers, tmp_path)
    config = replace(scratch.config, trigger_seconds=1, max_offsets_per_trigger=500)
    job = Program(SUPERVISED, job_argv(config), env=JOB_ENV, cwd=REPO_ROOT,
                  stop_wait_seconds=60)
    accepted: list[str] = []
    stop = threading.Event()

    def send(api_url: str) -> None:
        seed = 1000
        with httpx.Client(base_url=api_url, timeout=30) as client:
            while not stop.is_set():
                chunk = purchases(5, seed)
                body = b"[" + b",".join(kafka_value(p) for p in chunk) + b"]"
                response = client.post("/PurchasedItems", content=body,
                                       headers={"content-type": "application/json"})
                if response.status_code == 202:
                    accepted.extend(p.OrderId for p in chunk)
                seed += 1
                time.sleep(0.5)

    with ExitStack() as cleanup:
        cleanup.callback(scratch.close)
        supervisor = own_supervisord(tmp_path, [job])
        cleanup.callback(supervisor.shutdown)
        with running_api(lake_servers, tmp_path / "api.log",
                         environment={"KAFKA_PURCHASES_TOPIC": config.topic}) as api:
            api.wait_for_health(200)
            sender = threading.Thread(target=send, args=(api.url,), daemon=True)
            sender.start()
            try:
                wait_for("the job's first committed batch",
                         lambda: batch_ids(config.checkpoint / "commits"))
                time.sleep(3)  # purchases in flight when it dies
                info = supervisor.info()[SUPERVISED]
                os.kill(info["pid"], signal.SIGKILL)
                wait_for("the supervisor to restart the job", lambda: (
                    (now := supervisor.info()[SUPERVISED])["statename"] == "RUNNING"
                    and now["pid"] != info["pid"]))
                time.sleep(12)
            finally:
                stop.set()
                sender.join()
        assert accepted

        def landed():
            try:
                return scratch.read("raw").column("OrderId").to_pylist()
            except Exception:  # no table yet: nothing committed
                return None

        wait_for(f"{len(accepted)} purchases in the scratch lake",
                 lambda: len(landed() or []) >= len(accepted), every_s=5)
        assert Counter(landed()) == Counter(accepted)  # each exactly once
        frame = read_lake(spark, s3a_url(lake_servers, f"{config.root}raw/"),
                          lake_servers).purchases
        assert frame.count() == len(accepted)
