"""`invoke bench stream`: how fresh the lake is, and how fast the stream catches up.

(1) Freshness, through the deployed pipeline: purchases at the generator's default rate go
    to the API; for each, the time from its 202 to the moment an object holding it is
    readable in the S3 store (the store is listed every 0.5 s). Reference: the trigger
    interval (goal: p95 at most twice the trigger). The purchases are valid traffic with an
    OrderId prefix of their own: they land in `PurchasedItem` and `raw/` like any client's.
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
import threading
import time
import uuid
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyarrow.parquet as pq
from kafka import KafkaAdminClient, KafkaConsumer, KafkaProducer
from kafka.admin import NewTopic
from rich.console import Console
from rich.table import Table

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

BATCH_LINE = re.compile(r"^(\S+ \S+) purchase_stream INFO batch (\d+): (\d+) rows.*, (\d+) ms$")


def quantile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def freshness(settings, purchases: int, console: Console) -> list[float]:
    """Seconds from each purchase's 202 to its row being readable under raw/."""
    prefix = f"bench-{uuid.uuid4().hex[:10]}-"
    builder = TrafficBuilder(7, users=1000, products=300)
    accepted: dict[str, float] = {}
    readable: dict[str, float] = {}
    done = threading.Event()
    client, bucket = minio_client(settings), settings.s3_bucket
    seen: set[str] = set()

    def watch() -> None:
        while not (done.is_set() and len(readable) >= len(accepted)):
            for day in {datetime.now(UTC).date().isoformat()}:
                for obj in client.list_objects(bucket, f"{RAW}/dt={day}/"):
                    if obj.object_name in seen:
                        continue
                    seen.add(obj.object_name)
                    at = time.time()
                    data = client.get_object(bucket, obj.object_name).read()
                    for order in pq.read_table(io.BytesIO(data), columns=["OrderId"]) \
                            .column("OrderId").to_pylist():
                        if order.startswith(prefix):
                            readable.setdefault(order, at)
            time.sleep(0.5)

    # Objects already there are not ours: note them before sending.
    day = datetime.now(UTC).date().isoformat()
    seen |= {o.object_name for o in client.list_objects(bucket, f"{RAW}/dt={day}/")}
    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    with httpx.Client(base_url=settings.api_url, timeout=30) as api:
        for second in range(purchases // RATE):
            started = time.time()
            batch = [p.model_copy(update={"OrderId": f"{prefix}{second}-{i}",
                                          "TimeStamp": datetime.now(UTC)})
                     for i, p in enumerate(builder.batch(RATE).purchases)]
            body = b"[" + b",".join(kafka_value(p) for p in batch) + b"]"
            response = api.post("/PurchasedItems", content=body,
                                headers={"content-type": "application/json"})
            if response.status_code == 202:
                accepted.update({p.OrderId: time.time() for p in batch})
            time.sleep(max(0.0, 1.0 - (time.time() - started)))
    console.print(f"  sent {len(accepted)} purchases at {RATE}/s; waiting for the lake")
    done.set()
    watcher.join(timeout=120)
    missing = set(accepted) - set(readable)
    if missing:
        console.print(f"[red]{len(missing)} purchases not readable after 120 s[/]")
    return [readable[o] - accepted[o] for o in accepted if o in readable]


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
    job = subprocess.Popen(job_argv(config), env={**os.environ, **JOB_ENV}, cwd=REPO_ROOT,
                           stdout=log.open("w"), stderr=subprocess.STDOUT,
                           start_new_session=True)
    peak, batches = 0.0, []  # (logged at, rows, ms)
    try:
        deadline = time.monotonic() + 1800
        while sum(rows for _, rows, _ in batches) < n:
            if job.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the job stopped or took too long; see {log}")
            peak = max(peak, tree_memory_mib(job.pid))
            batches = [(datetime.fromisoformat(m[1].replace(",", ".")), int(m[3]), int(m[4]))
                       for m in map(BATCH_LINE.match, log.read_text().splitlines()) if m]
            time.sleep(1)
    finally:
        os.killpg(job.pid, signal.SIGTERM)
        job.wait(timeout=120)
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


def run(purchases: int = 300, backlog_size: int = 200_000, console: Console | None = None):
    console = console or Console()
    settings = get_settings()
    console.print(f"(1) freshness: {purchases} purchases through the API at {RATE}/s")
    lags = freshness(settings, purchases, console)
    p50, p95 = quantile(lags, 0.5), quantile(lags, 0.95)

    name = uuid.uuid4().hex[:10]
    scratch = Path(tempfile.mkdtemp(prefix="shopstream-bench-stream-"))
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
    return {"p50_s": p50, "p95_s": p95, "rows_per_s": job_rate, "busy_rows_per_s": busy_rate,
            "memory_mib": memory}


if __name__ == "__main__":
    run()
