"""`invoke bench ingest`: what ingestion costs, against its two baselines, in one run.

    (a) PUT /bench/noop        the same server reading a UserEvent body and answering 202
    (b) PUT /SendEvent         one UserEvent per request, validated and acked by Kafka
    (c) POST /PurchasedItems   500 Purchases per request
    (d) raw kafka-python       the same purchases, produced directly with the API's settings

b/a is what validation and the Kafka round trip cost an event; c/d is what HTTP and the API
cost on top of Kafka for bulk purchases. The API runs in its own uvicorn process against the
real broker of `.env`; the records are valid generator traffic, so they land in the topics.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psutil
from kafka import KafkaProducer
from pydantic import TypeAdapter
from rich.console import Console
from rich.table import Table

from apps.api.local_server import running_api
from apps.api.publisher import producer_config
from apps.bench.load import LoadResult, http_request, load
from apps.contract.models import Purchase, UserEvent, kafka_key, kafka_value, topic_for
from apps.generator.traffic import TrafficBuilder
from apps.settings import get_settings

PURCHASES = TypeAdapter(list[Purchase])


@dataclass(frozen=True)
class Row:
    name: str
    records_per_request: int
    result: LoadResult
    cpu_seconds: float  # CPU the server (or, for (d), the raw producer) spent on it

    @property
    def cpu_us_per_record(self) -> float:
        return 1e6 * self.cpu_seconds / (self.requests * self.records_per_request)

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


def _raw_producer(settings, arrays: list[list[Purchase]], threads: int) -> LoadResult:
    """(d): each array produced by one of `threads` workers, which waits for all its acks."""
    config = producer_config(settings.kafka_servers, settings.api_kafka_ack_timeout)
    producer = KafkaProducer(**config)
    messages = [[(topic_for(p), kafka_key(p), kafka_value(p)) for p in a] for a in arrays]
    result = LoadResult(seconds=0.0)

    def produce(batch) -> None:
        started = time.perf_counter()
        futures = [producer.send(topic, value=value, key=key) for topic, key, value in batch]
        for future in futures:
            future.get(timeout=settings.api_kafka_ack_timeout)
        result.latencies.append(time.perf_counter() - started)
        result.statuses[202] += 1

    try:
        started = time.perf_counter()
        with ThreadPoolExecutor(threads) as pool:
            list(pool.map(produce, messages))
        result.seconds = time.perf_counter() - started
    finally:
        producer.close()
    return result


def table(rows: list[Row]) -> Table:
    out = Table(title="shopstream ingestion benchmark")
    for column in ("scenario", "requests", "non-202", "requests/s", "records/s",
                   "p50 ms", "p99 ms", "CPU µs/record"):
        out.add_column(column, justify="left" if column == "scenario" else "right")
    for row in rows:
        out.add_row(row.name, str(row.requests), str(row.failures),
                    f"{row.requests_per_s:,.0f}", f"{row.records_per_s:,.0f}",
                    f"{row.latency_ms(0.5):.1f}", f"{row.latency_ms(0.99):.1f}",
                    f"{row.cpu_us_per_record:,.0f}")
    return out


def run(events: int = 5000, purchase_requests: int = 40, per_request: int = 500,
        connections: int = 32, purchase_connections: int = 4, max_seconds: float = 30.0,
        seed: int = 1, console: Console | None = None) -> dict[str, float]:
    """Run (a) to (d), print the table and the ratios, return the ratios."""
    console = console or Console()
    settings = get_settings()
    # Each scenario first warms up (connections, producer, code paths) on records of its own.
    event_pool, arrays = _records(seed, events + connections * 2,
                                  purchase_requests + purchase_connections * 2, per_request)
    log = Path(tempfile.mkdtemp(prefix="shopstream-bench-")) / "api.log"
    with running_api(settings, log, app="apps.api.main:bench_app", factory=True) as api:
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
    cpu = _cpu_seconds()
    raw = _raw_producer(settings, arrays[purchase_connections * 2:], purchase_connections)
    rows.append(Row(f"(d) raw kafka-python x{per_request}", per_request, raw,
                    _cpu_seconds() - cpu))
    ratios = {"b/a": rows[1].records_per_s / rows[0].records_per_s,
              "c/d": rows[2].records_per_s / rows[3].records_per_s}
    console.print(table(rows))
    console.print(f"b/a = {ratios['b/a']:.2f} (goal >= 0.6)   "
                  f"c/d = {ratios['c/d']:.2f} (goal >= 0.5)")
    console.print(f"{connections} connections for (a) and (b), {purchase_connections} for (c) "
                  f"and (d); API log: {log}")
    return ratios


if __name__ == "__main__":
    run()
