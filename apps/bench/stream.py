"""`invoke bench stream`: how fresh the lake is, and how fast the stream catches up.

(1) Freshness: purchases at the generator's default rate go to an API process of the
    benchmark's own, publishing to a topic of its own, read by a stream job of its own into
    a lake prefix of its own (never `PurchasedItem` or `raw/`); for each, the time from its
    202 to the moment an object holding it is readable in the S3 store (listed every 0.5 s).
    Reference: the trigger interval (goal: p95 at most twice the trigger).
(2) Catching up: a backlog of 200,000 purchases on a topic and lake prefix of their own
    (never `raw/`), drained by the job's own entry point in a separate process from a fresh
    checkpoint; rows/s between its first and last batch, and the peak memory of its process
    tree. References in the same run: reading the same backlog with a plain Kafka consumer,
    and validating it with the contract on one core, in this process.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyarrow.parquet as pq
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from rich.console import Console
from rich.table import Table

from apps.api.local_server import running_api
from apps.bench.background import Background
from apps.bench.ingest import bench_topics
from apps.bench.report import Figure
from apps.console import make_console
from apps.contract.models import TOPIC_PARTITIONS, kafka_key, kafka_value
from apps.generator.traffic import TrafficBuilder
from apps.purchase_stream.config import JOB_ENV, TRIGGER_SECONDS, StreamConfig, job_argv
from apps.purchase_stream.layout import RAW
from apps.purchase_stream.store import remove_prefix
from apps.purchase_stream.validate import validate_value
from apps.settings import REPO_ROOT, get_settings
from apps.stack.services.generator import RATE
from apps.stack.services.s3 import minio_client
from apps.stack.status import tree_memory_mib

JOB_START_S = 600  # a Spark job's start-up on a loaded machine
BATCH_LINE = re.compile(r"^(\S+ \S+) purchase_stream INFO batch (\d+): (\d+) rows.*, (\d+) ms$")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


class LakeWatch(Background):
    """Notes the moment each purchase (by OrderId) is first readable under `<root>raw/`:
    a thread lists the prefix every `every` seconds and reads each new object once."""

    def __init__(self, settings, root: str, every: float = 0.5):
        super().__init__()
        self.client, self.bucket = minio_client(settings), settings.s3_bucket
        self.prefix, self.every = f"{root}{RAW}/", every
        self.readable: dict[str, float] = {}
        self._seen: set[str] = set()

    def _run(self) -> None:
        while not self._stop.is_set():
            for obj in self.client.list_objects(self.bucket, self.prefix, recursive=True):
                if obj.object_name in self._seen:
                    continue
                self._seen.add(obj.object_name)
                at = time.time()
                data = self.client.get_object(self.bucket, obj.object_name).read()
                for order in pq.read_table(io.BytesIO(data), columns=["OrderId"]) \
                        .column("OrderId").to_pylist():
                    self.readable.setdefault(order, at)
            self._stop.wait(self.every)

    def wait_for(self, orders, timeout_s: float) -> set[str]:
        """Wait until every order is readable or the time is up; returns those missing."""
        deadline = time.monotonic() + timeout_s
        while (missing := set(orders) - set(self.readable)) and time.monotonic() < deadline:
            time.sleep(self.every)
        return missing


@contextmanager
def job_process(config: StreamConfig, log: Path) -> Iterator[subprocess.Popen]:
    """The stream job's own entry point on `config`, in a process group of its own."""
    job = subprocess.Popen(job_argv(config), env={**os.environ, **JOB_ENV}, cwd=REPO_ROOT,
                           stdout=log.open("w"), stderr=subprocess.STDOUT,
                           start_new_session=True)
    try:
        yield job
    finally:
        os.killpg(job.pid, signal.SIGTERM)
        job.wait(timeout=120)


def post_purchases(api: httpx.Client, purchases) -> bool:
    body = b"[" + b",".join(kafka_value(p) for p in purchases) + b"]"
    response = api.post("/PurchasedItems", content=body,
                        headers={"content-type": "application/json"})
    return response.status_code == 202


def freshness(settings, api_url: str, root: str, purchases: int, console: Console) -> list[float]:
    """Seconds from each purchase's 202 to its row being readable under `<root>raw/`; a
    first purchase, sent before, waits until the job is running."""
    builder = TrafficBuilder(7, users=1000, products=300)
    accepted: dict[str, float] = {}
    with LakeWatch(settings, root) as lake, httpx.Client(base_url=api_url, timeout=30) as api:
        [first] = builder.batch(1).purchases
        if not post_purchases(api, [first]) or lake.wait_for([first.OrderId], JOB_START_S):
            raise RuntimeError(f"the stream job wrote nothing in {JOB_START_S} s")
        for second in range(purchases // RATE):
            started = time.time()
            batch = [p.model_copy(update={"OrderId": f"fresh-{second}-{i}",
                                          "TimeStamp": datetime.now(UTC)})
                     for i, p in enumerate(builder.batch(RATE).purchases)]
            if post_purchases(api, batch):
                accepted.update({p.OrderId: time.time() for p in batch})
            time.sleep(max(0.0, 1.0 - (time.time() - started)))
        console.print(f"  sent {len(accepted)} purchases at {RATE}/s; waiting for the lake")
        missing = lake.wait_for(accepted, 120)
    if missing:
        console.print(f"[red]{len(missing)} purchases not readable after 120 s[/]")
    return [lake.readable[o] - accepted[o] for o in accepted if o in lake.readable]


def backlog(settings, n: int, topic: str) -> list[bytes]:
    """`n` distinct valid purchases produced to `topic`; returns their values."""
    base = TrafficBuilder(11, users=5000, products=1000).batch(2000).purchases
    producer = KafkaProducer(bootstrap_servers=settings.kafka_servers, acks="all",
                             linger_ms=20, batch_size=256 * 1024)
    values = []
    for i in range(n):
        p = base[i % len(base)].model_copy(update={"OrderId": f"backlog-{i}"})
        values.append(kafka_value(p))
        producer.send(topic, key=kafka_key(p), value=values[-1])
    producer.flush()
    producer.close()
    return values


def drain_with_job(settings, config: StreamConfig, n: int,
                   log: Path) -> tuple[float, float, float]:
    """Run the job until it has written `n` rows; (rows/s between first and last batch,
    rows/s while its batches run, peak MiB of its process tree). With the default trigger
    the first is capped at max offsets per trigger / trigger interval."""
    peak, batches = 0.0, []  # (logged at, rows, ms)
    with job_process(config, log) as job:
        deadline = time.monotonic() + 1800
        while sum(rows for _, rows, _ in batches) < n:
            if job.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the job stopped or took too long; see {log}")
            peak = max(peak, tree_memory_mib(job.pid))
            batches = [(datetime.fromisoformat(m[1].replace(",", ".")), int(m[3]), int(m[4]))
                       for m in map(BATCH_LINE.match, log.read_text().splitlines()) if m]
            time.sleep(1)
    # A batch's line is logged when it ends: rows after the first line over the time between.
    first, last = batches[0][0], batches[-1][0]
    rows = sum(r for _, r, _ in batches[1:])
    busy = sum(ms for _, _, ms in batches[1:]) / 1000
    return rows / (last - first).total_seconds(), rows / busy, peak


def consume_rate(settings, topic: str, n: int) -> float:
    consumer = KafkaConsumer(topic, bootstrap_servers=settings.kafka_servers,
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             consumer_timeout_ms=10000)
    started, count = time.perf_counter(), 0
    for _ in consumer:
        count += 1
        if count >= n:
            break
    consumer.close()
    return count / (time.perf_counter() - started)


def validate_rate(values: list[bytes]) -> float:
    started = time.perf_counter()
    for value in values:
        validate_value(value)
    return len(values) / (time.perf_counter() - started)


def run(purchases: int = 300, backlog_size: int = 200_000,
        console: Console | None = None) -> list[Figure]:
    console = console or make_console()
    settings = get_settings()
    name = uuid.uuid4().hex[:10]
    scratch = Path(tempfile.mkdtemp(prefix="shopstream-bench-stream-"))
    console.print(f"(1) freshness: {purchases} purchases through an API, topic, stream job "
                  f"and prefix of their own, at {RATE}/s")
    with bench_topics(settings) as environment:
        fresh = StreamConfig(topic=environment["KAFKA_PURCHASES_TOPIC"],
                             root=f"bench/stream-fresh-{name}/",
                             checkpoint=scratch / "fresh-checkpoint",
                             progress_file=scratch / "fresh-progress.json")
        try:
            with job_process(fresh, scratch / "fresh-job.log"), \
                    running_api(settings, scratch / "api.log", environment=environment) as api:
                api.wait_for_health(200)
                lags = freshness(settings, api.url, fresh.root, purchases, console)
        finally:
            remove_prefix(settings, fresh.root)
    p50, p95 = quantile(lags, 0.5), quantile(lags, 0.95)

    config = StreamConfig(topic=f"bench-purchases-{name}", root=f"bench/stream-{name}/",
                          checkpoint=scratch / "checkpoint", progress_file=scratch / "p.json")
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers)
    admin.create_topics([NewTopic(config.topic, TOPIC_PARTITIONS, 1)])
    try:
        console.print(f"(2) backlog: {backlog_size:,} purchases on {config.topic}")
        values = backlog(settings, backlog_size, config.topic)
        job_rate, busy_rate, memory = drain_with_job(settings, config, backlog_size, scratch / "job.log")
        kafka_rate = consume_rate(settings, config.topic, backlog_size)
        contract_rate = validate_rate(values[:50_000])
    finally:
        admin.delete_topics([config.topic])
        admin.close()
        remove_prefix(settings, config.root)

    out = Table(title="shopstream stream benchmark")
    for column in ("measure", "value", "reference", "ratio"):
        out.add_column(column, justify="left" if column == "measure" else "right")
    out.add_row("freshness p50 (202 -> readable in S3)", f"{p50:.1f} s",
                f"trigger {TRIGGER_SECONDS:.0f} s", f"{p50 / TRIGGER_SECONDS:.2f}")
    out.add_row("freshness p95", f"{p95:.1f} s", f"trigger {TRIGGER_SECONDS:.0f} s",
                f"{p95 / TRIGGER_SECONDS:.2f} (goal <= 2)")
    out.add_row("catch-up rows/s (job, 200k backlog)", f"{job_rate:,.0f}",
                f"Kafka consumer {kafka_rate:,.0f}", f"{job_rate / kafka_rate:.2f}")
    out.add_row("", "", f"contract, 1 core {contract_rate:,.0f}",
                f"{job_rate / contract_rate:.2f}")
    out.add_row("rows/s while a batch runs (capacity)", f"{busy_rate:,.0f}",
                f"Kafka consumer {kafka_rate:,.0f}", f"{busy_rate / kafka_rate:.2f}")
    out.add_row("job memory (PSS of its process tree, peak)", f"{memory:,.0f} MiB", "", "")
    console.print(out)
    console.print(f"{len(lags)} freshness samples; job log: {scratch / 'job.log'}")
    console.print(f"catch-up is capped at {config.max_offsets_per_trigger:,} rows per "
                  f"{config.trigger_seconds:.0f} s trigger when batches end early")
    return [
        Figure("stream", "freshness p50 (202 -> readable in S3)", p50, "s",
               "trigger interval s", TRIGGER_SECONDS),
        Figure("stream", "freshness p95", p95, "s", "trigger interval s", TRIGGER_SECONDS, "<= 2"),
        Figure("stream", "catch-up rows/s (job, 200k backlog)", job_rate, "rows/s",
               "plain Kafka consumer rows/s", kafka_rate),
        Figure("stream", "catch-up rows/s (job, 200k backlog)", job_rate, "rows/s",
               "contract validation on 1 core rows/s", contract_rate),
        Figure("stream", "rows/s while a batch runs", busy_rate, "rows/s",
               "plain Kafka consumer rows/s", kafka_rate),
        Figure("stream", "job memory (PSS of its process tree, peak)", memory, "MiB")]


if __name__ == "__main__":
    run()
