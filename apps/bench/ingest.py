"""`invoke bench ingest`: what ingestion costs, against its two baselines, in one run.

    (a) PUT /bench/noop        the same server reading a UserEvent body and answering 202
    (b) PUT /SendEvent         one UserEvent per request, validated and acked by Kafka
    (c) POST /PurchasedItems   500 Purchases per request
    (d) raw producer           the same purchases, produced directly by the API's client
                               (librdkafka) with the API's settings
    (e) raw kafka-python       the same again with kafka-python's producer, for comparison

b/a is what validation and the Kafka round trip cost an event; c/d is what HTTP and the API
cost on top of Kafka for bulk purchases. The API runs in its own uvicorn process against the
real broker of `.env`, pointed at topics of the benchmark's own (created for the run and
deleted after it), so no record reaches the pipeline's topics.
"""

from __future__ import annotations

import asyncio
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from confluent_kafka import Producer
from kafka import KafkaAdminClient, KafkaProducer
from kafka.admin import NewTopic
from pydantic import TypeAdapter
from rich.console import Console
from rich.table import Table

from apps.api.local_server import running_api
from apps.api.publisher import producer_config
from apps.bench.load import LoadResult, http_request, load
from apps.contract.models import TOPIC_PARTITIONS, Purchase, UserEvent, kafka_key, kafka_value
from apps.generator.traffic import TrafficBuilder
from apps.settings import Settings, get_settings

PURCHASES = TypeAdapter(list[Purchase])


@dataclass(frozen=True)
class Row:
    name: str
    records_per_request: int
    result: LoadResult
    cpu_seconds: float  # CPU the server (or, for (d), the raw producer) spent on it

    @property
    def cpu_us_per_request(self) -> float:
        return 1e6 * self.cpu_seconds / self.requests

    @property
    def cpu_us_per_record(self) -> float:
        return self.cpu_us_per_request / self.records_per_request

    @property
    def requests(self) -> int:
        return len(self.result.latencies)

    @property
    def requests_per_s(self) -> float:
        return self.requests / self.result.seconds

    @property
    def records_per_s(self) -> float:
        return self.requests_per_s * self.records_per_request

    def latency_ms(self, quantile: float) -> float:
        ordered = sorted(self.result.latencies)
        return 1000 * ordered[min(len(ordered) - 1, int(quantile * len(ordered)))]

    @property
    def failures(self) -> int:
        return sum(n for status, n in self.result.statuses.items() if status != 202)


def _records(seed: int, events: int, purchase_requests: int, per_request: int):
    """Distinct valid events, and `purchase_requests` arrays of distinct purchases."""
    builder = TrafficBuilder(seed, users=1000, products=300)
    event_pool: list[UserEvent] = []
    while len(event_pool) < events:
        event_pool += builder.batch(100).events
    base = builder.batch(per_request).purchases
    arrays = [[p.model_copy(update={"OrderId": str(uuid.uuid4())}) for p in base]
              for _ in range(purchase_requests)]
    return event_pool[:events], arrays


def _cpu_seconds(pid: int | None = None) -> float:
    times = psutil.Process(pid).cpu_times()
    return times.user + times.system


@contextmanager
def bench_topics(settings: Settings) -> Iterator[dict[str, str]]:
    """Topics of the run's own, shaped like the contract's; yields the API's environment
    that points it at them. Deleted afterwards."""
    suffix = uuid.uuid4().hex[:8]
    environment = {"KAFKA_USER_EVENTS_TOPIC": f"bench-UserEvents-{suffix}",
                   "KAFKA_PURCHASES_TOPIC": f"bench-PurchasedItem-{suffix}"}
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_servers)
    try:
        admin.create_topics([NewTopic(t, TOPIC_PARTITIONS, 1) for t in environment.values()])
        yield environment
    finally:
        admin.delete_topics(list(environment.values()))
        admin.close()


def _timed(batches: list, threads: int, produce) -> LoadResult:
    """Each batch produced by one of `threads` workers, which waits for all its acks."""
    result = LoadResult(seconds=0.0)

    def one(batch) -> None:
        started = time.perf_counter()
        produce(batch)
        result.latencies.append(time.perf_counter() - started)
        result.statuses[202] += 1

    started = time.perf_counter()
    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(one, batches))
    result.seconds = time.perf_counter() - started
    return result


def _raw_librdkafka(settings: Settings, batches: list, threads: int) -> LoadResult:
    """(d): the API's client and settings, one poll thread serving the delivery reports."""
    producer = Producer(producer_config(settings.kafka_servers, settings.api_kafka_ack_timeout))
    stop = threading.Event()

    def serve_reports() -> None:
        while not stop.is_set():
            producer.poll(0.1)

    poller = threading.Thread(target=serve_reports)
    poller.start()

    def produce(batch) -> None:
        left, done, failed = [len(batch)], threading.Event(), []

        def delivered(error, _message) -> None:
            if error is not None:
                failed.append(error)
            left[0] -= 1
            if not left[0]:
                done.set()

        for topic, key, value in batch:
            producer.produce(topic, value, key, on_delivery=delivered)
        if not done.wait(settings.api_kafka_ack_timeout) or failed:
            raise RuntimeError(f"raw producer: {failed or 'no acknowledgement'}")

    try:
        return _timed(batches, threads, produce)
    finally:
        stop.set()
        poller.join()
        producer.flush(10)


def _raw_kafka_python(settings: Settings, batches: list, threads: int) -> LoadResult:
    """(e): kafka-python's producer with the settings the API used with it."""
    delivery_ms = int(settings.api_kafka_ack_timeout * 1000)
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_servers, acks="all", enable_idempotence=True,
        linger_ms=2, batch_size=512 * 1024, max_request_size=2 * 1024 * 1024,
        delivery_timeout_ms=delivery_ms, request_timeout_ms=delivery_ms - 2)

    def produce(batch) -> None:
        futures = [producer.send(topic, value=value, key=key) for topic, key, value in batch]
        for future in futures:
            future.get(timeout=settings.api_kafka_ack_timeout)

    try:
        return _timed(batches, threads, produce)
    finally:
        producer.close()


def table(rows: list[Row]) -> Table:
    out = Table(title="shopstream ingestion benchmark")
    for column in ("scenario", "requests", "non-202", "requests/s", "records/s",
                   "p50 ms", "p99 ms", "CPU µs/request", "CPU µs/record"):
        out.add_column(column, justify="left" if column == "scenario" else "right")
    for row in rows:
        out.add_row(row.name, str(row.requests), str(row.failures),
                    f"{row.requests_per_s:,.0f}", f"{row.records_per_s:,.0f}",
                    f"{row.latency_ms(0.5):.1f}", f"{row.latency_ms(0.99):.1f}",
                    f"{row.cpu_us_per_request:,.0f}", f"{row.cpu_us_per_record:,.1f}")
    return out


def ratios(rows: list[Row]) -> dict[str, float]:
    """b/a and c/d of throughput (the goals), and of latency and CPU (for the record)."""
    (a, b, c, d, *_) = rows
    out = {}
    for name, x, y in (("b/a", b, a), ("c/d", c, d)):
        out[name] = x.records_per_s / y.records_per_s
        out[f"{name} p50"] = x.latency_ms(0.5) / y.latency_ms(0.5)
        out[f"{name} p99"] = x.latency_ms(0.99) / y.latency_ms(0.99)
        out[f"{name} CPU/request"] = x.cpu_us_per_request / y.cpu_us_per_request
    return out


def run(events: int = 5000, purchase_requests: int = 40, per_request: int = 500,
        connections: int = 32, purchase_connections: int = 4, max_seconds: float = 30.0,
        seed: int = 1, console: Console | None = None) -> dict[str, float]:
    """Run (a) to (e), print the table and the ratios, return the ratios."""
    console = console or Console()
    settings = get_settings()
    # Each scenario first warms up (connections, producer, code paths) on records of its own.
    event_pool, arrays = _records(seed, events + connections * 2,
                                  purchase_requests + purchase_connections * 2, per_request)
    log = Path(tempfile.mkdtemp(prefix="shopstream-bench-")) / "api.log"
    with bench_topics(settings) as environment:
        rows = _run_all(settings, log, environment, event_pool, arrays, per_request,
                        connections, purchase_connections, max_seconds)
    found = ratios(rows)
    console.print(table(rows))
    console.print(f"throughput b/a = {found['b/a']:.2f} (goal >= 0.6), "
                  f"c/d = {found['c/d']:.2f} (goal >= 0.8)")
    console.print("  ".join(f"{k} = {v:.2f}" for k, v in found.items() if " " in k))
    console.print(f"{connections} connections for (a) and (b), {purchase_connections} for (c) "
                  f"to (e); load average {' '.join(f'{x:.1f}' for x in psutil.getloadavg())}; "
                  f"API log: {log}")
    return found


def _run_all(settings: Settings, log: Path, environment: dict[str, str], event_pool, arrays,
             per_request: int, connections: int, purchase_connections: int,
             max_seconds: float) -> list[Row]:
    with running_api(settings, log, app="apps.api.main:bench_app", factory=True,
                     environment=environment) as api:
        api.wait_for_health(200)
        target = f"{api.host}:{api.port}"
        event_bodies = [kafka_value(e) for e in event_pool]
        noop = [http_request("PUT", "/bench/noop", target, b) for b in event_bodies]
        send = [http_request("PUT", "/SendEvent", target, b) for b in event_bodies]
        bulk = [http_request("POST", "/PurchasedItems", target, PURCHASES.dump_json(a))
                for a in arrays]

        def measure(name: str, per: int, requests: list[bytes], concurrency: int) -> Row:
            warm_up, measured = requests[:concurrency * 2], requests[concurrency * 2:]
            asyncio.run(load(api.host, api.port, warm_up, concurrency, max_seconds))
            cpu = _cpu_seconds(api.pid)
            result = asyncio.run(load(api.host, api.port, measured, concurrency, max_seconds))
            return Row(name, per, result, _cpu_seconds(api.pid) - cpu)

        rows = [
            measure("(a) PUT /bench/noop", 1, noop, connections),
            measure("(b) PUT /SendEvent", 1, send, connections),
            measure(f"(c) POST /PurchasedItems x{per_request}", per_request, bulk,
                    purchase_connections),
        ]
    topic = environment["KAFKA_PURCHASES_TOPIC"]
    batches = [[(topic, kafka_key(p), kafka_value(p)) for p in a]
               for a in arrays[purchase_connections * 2:]]
    for name, raw in ((f"(d) raw producer (librdkafka) x{per_request}", _raw_librdkafka),
                      (f"(e) raw kafka-python x{per_request}", _raw_kafka_python)):
        cpu = _cpu_seconds()
        result = raw(settings, batches, purchase_connections)
        rows.append(Row(name, per_request, result, _cpu_seconds() - cpu))
    return rows


if __name__ == "__main__":
    run()
