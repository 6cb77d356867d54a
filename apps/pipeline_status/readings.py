"""Reading what each stage recorded: one probe per source, all in parallel, each given the
same short deadline. A probe that does not answer in time is reported as such; status
never waits for it (its thread is a daemon: the process exits without it).

Probes import their client library themselves, so that `invoke status` pays only for what
it reads, and never for PySpark or the analysis.
"""

from __future__ import annotations

import importlib
import json
import shutil
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from apps.contract.models import PURCHASES_TOPIC, USER_EVENTS_TOPIC
from apps.purchase_stream.config import PROGRESS_FILE, StreamConfig
from apps.settings import Settings
from apps.stack.paths import STACK_DIR
from apps.stack.runtime import Runtime
from apps.stack.services import ALL
from apps.stack.services.generator import PROGRESS_FILE as GENERATOR_PROGRESS_FILE
from apps.user_events.identity import DAG_ID, GROUP_ID

DEADLINE_S = 1.2  # each probe's budget; they run at once, so status takes about this


@dataclass(frozen=True)
class Reading:
    value: object = None
    error: str | None = None  # why it could not be read; None when `value` is what was read


@dataclass(frozen=True)
class Sources:
    """Where the stages record their figures: the pipeline's, or a test's own."""

    user_events_topic: str = USER_EVENTS_TOPIC
    purchases_topic: str = PURCHASES_TOPIC
    dag_group: str = GROUP_ID
    database: str | None = None  # None: MONGO_DB
    stream_progress_file: Path = PROGRESS_FILE
    lake_root: str = ""
    generator_progress_file: Path = GENERATOR_PROGRESS_FILE

    @property
    def lake_figures_file(self) -> Path:
        return StreamConfig(progress_file=self.stream_progress_file).lake_figures_file


# The client libraries the probes use, imported before the probes start: two threads
# importing one package at once can deadlock on its circular imports (pymongo's do).
CLIENT_LIBRARIES = ("confluent_kafka", "httpx", "minio", "psycopg2", "psutil",
                    "pymongo", "urllib3")


def read_all(probes: dict[str, Callable[[], object]], deadline_s: float = DEADLINE_S
             ) -> dict[str, Reading]:
    """Run every probe at once; what has not answered by the deadline is an error."""
    for library in CLIENT_LIBRARIES:
        importlib.import_module(library)
    results: dict[str, Reading] = {}

    def run(name: str, probe: Callable[[], object]) -> None:
        try:
            results[name] = Reading(probe())
        except Exception as exc:  # a probe reports, it never raises
            results[name] = Reading(error=f"{exc.__class__.__name__}: {str(exc)[:200]}")

    threads = [threading.Thread(target=run, args=item, daemon=True, name=f"probe-{item[0]}")
               for item in probes.items()]
    for thread in threads:
        thread.start()
    end = time.monotonic() + deadline_s
    for thread in threads:
        thread.join(max(0.0, end - time.monotonic()))
    late = Reading(error=f"no answer within {deadline_s:g} s")
    return {name: results.get(name, late) for name in probes}


# --- the probes: each reads one place where a stage records what it does ---------------

def json_file(path: Path) -> dict | None:
    """A small JSON file a stage replaces atomically; None before it wrote one."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None


def service_health(settings: Settings, service) -> Callable[[], str | None]:
    return lambda: service.health(settings).check()


def supervised(runtime: Runtime) -> dict[str, dict]:
    return runtime.supervisor.info()


def memory_by_program(runtime: Runtime) -> dict[str, float]:
    from apps.stack.status import tree_memory_mib

    return {name: tree_memory_mib(info["pid"]) for name, info in runtime.supervisor.info().items()
            if info["pid"]}


def api_metrics(settings: Settings) -> str:
    import httpx

    response = httpx.get(f"{settings.api_url.rstrip('/')}/metrics", timeout=DEADLINE_S)
    response.raise_for_status()
    return response.text


def kafka_offsets(settings: Settings, sources: Sources) -> dict:
    """Each topic's end offsets and the DAG's group's committed offsets (librdkafka: a
    light import, and no group join: the consumer subscribes to nothing)."""
    from confluent_kafka import Consumer, TopicPartition

    consumer = Consumer({"bootstrap.servers": settings.kafka_bootstrap_servers,
                         "group.id": sources.dag_group, "enable.auto.commit": False,
                         "socket.timeout.ms": int(DEADLINE_S * 1000),
                         "fetch.wait.max.ms": 10})  # it never fetches
    try:
        metadata = consumer.list_topics(timeout=DEADLINE_S)
        ends: dict[str, dict[int, int]] = {}
        for topic in (sources.user_events_topic, sources.purchases_topic):
            known = metadata.topics.get(topic)
            partitions = sorted(known.partitions) if known and not known.error else []
            ends[topic] = {p: consumer.get_watermark_offsets(TopicPartition(topic, p),
                                                             timeout=DEADLINE_S)[1]
                           for p in partitions}
        wanted = [TopicPartition(sources.user_events_topic, p)
                  for p in ends[sources.user_events_topic]]
        committed = {tp.partition: tp.offset for tp in
                     consumer.committed(wanted, timeout=DEADLINE_S) if tp.offset >= 0}
    finally:
        consumer.close()
    return {"ends": ends, "committed": committed}


def airflow_dag(settings: Settings) -> dict:
    from apps.user_events.airflow_api import AirflowApi

    with AirflowApi(settings, timeout=DEADLINE_S) as api:
        return {"dag": api.dag(DAG_ID), "last_run": api.last_run(DAG_ID)}


def mongo_records(settings: Settings, sources: Sources) -> dict:
    """What the DAG's runs recorded (pipeline_progress) and the open losses."""
    from apps import losses
    from apps.mongo import DATA_LOSSES, PIPELINE_PROGRESS
    from apps.user_events.mongo_io import client

    timeout_ms = int(DEADLINE_S * 1000)
    with client(settings, serverSelectionTimeoutMS=timeout_ms, connectTimeoutMS=timeout_ms,
                socketTimeoutMS=timeout_ms) as mongo:
        db = mongo[sources.database or settings.mongo_db]
        return {"progress": db[PIPELINE_PROGRESS].find_one({"_id": sources.user_events_topic}),
                "open_losses": losses.open_losses(db[DATA_LOSSES])}


def lake_maintenance(settings: Settings, sources: Sources) -> dict:
    import urllib3

    from apps.lake.names import QUARANTINE_TABLE, RAW_TABLE
    from apps.lake.runs import last_run

    quick = urllib3.PoolManager(timeout=DEADLINE_S, retries=False)
    return {table.area: last_run(settings, table.under(sources.lake_root), quick)
            for table in (RAW_TABLE, QUARANTINE_TABLE)}


def lake_stream_figures(sources: Sources) -> dict:
    from apps.lake.runs import recorded_lake_figures

    return recorded_lake_figures(sources.lake_figures_file)


def analysis_refresh(settings: Settings):
    import psycopg2

    from apps.analysis.refreshes import last_refresh

    # libpq waits at least 2 s to connect; the probe's deadline cuts it shorter
    conn = psycopg2.connect(settings.postgres_url, connect_timeout=2)
    try:
        return last_refresh(conn)
    finally:
        conn.close()


def disk() -> dict:
    usage = shutil.disk_usage(STACK_DIR.resolve())
    return {"path": str(STACK_DIR), "used_fraction": round(usage.used / usage.total, 4),
            "free_bytes": usage.free}


def probes(settings: Settings, runtime: Runtime, sources: Sources = Sources()
           ) -> dict[str, Callable[[], object]]:
    """Every probe status runs, by name (`health:<service>` for each service's own check)."""
    return {
        **{f"health:{s.name}": service_health(settings, s) for s in ALL},
        "supervisor": lambda: supervised(runtime),
        "memory": lambda: memory_by_program(runtime),
        "generator": lambda: json_file(sources.generator_progress_file),
        "api": lambda: api_metrics(settings),
        "kafka": lambda: kafka_offsets(settings, sources),
        "airflow": lambda: airflow_dag(settings),
        "mongo": lambda: mongo_records(settings, sources),
        "stream": lambda: json_file(sources.stream_progress_file),
        "lake_stream": lambda: lake_stream_figures(sources),
        "lake_maintenance": lambda: lake_maintenance(settings, sources),
        "analysis": lambda: analysis_refresh(settings),
        "disk": disk,
    }


def read(settings: Settings, runtime: Runtime, sources: Sources = Sources(),
         deadline_s: float = DEADLINE_S) -> tuple[datetime, dict[str, Reading]]:
    """(when, every reading): what stages.build turns into the report."""
    readings = read_all(probes(settings, runtime, sources), deadline_s)
    return datetime.now(UTC), readings
