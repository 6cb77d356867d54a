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
deleted after it), so no record reaches the pipeline's topics. Scenarios that are compared
run in alternating slices (a b b a a b ...; c d e e d c ...), so a change in the machine's
load during the run weighs on both sides of a ratio alike.

On a Kafka cluster (the cluster profile) the run goes on with replication.py: the same
PUTs and POSTs to topics with replication 3 beside topics with replication 1.
"""

from __future__ import annotations

import asyncio
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil
from kafka import KafkaAdminClient
from kafka.admin import NewTopic
from rich.console import Console
from rich.table import Table

from apps.api.local_server import running_api
from apps.bench import raw_producers
from apps.bench.load import LoadResult, http_request, load
from apps.bench.report import Figure
from apps.console import make_console
from apps.contract.models import (
    PURCHASED_ITEMS,
    TOPIC_PARTITIONS,
    UserEvent,
    kafka_key,
    kafka_value,
)
from apps.generator.traffic import TrafficBuilder
from apps.settings import Settings, get_settings
from apps.stack.services import kafka

ROUNDS = 8  # slices per compared scenario: the stack's own work (Spark's triggers, the
# scheduler) comes in bursts of seconds, which many short slices spread over both sides.

# Each scenario first runs this much untimed: the broker's JIT compiles its produce path
# only under traffic (a fresh broker spent 3-6x the CPU per event of a warm one), and the
# API's connections, producer and code paths come up.
WARM_UP_EVENTS = 4000
WARM_UP_BATCHES = 8


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


def _timed(batches: list, threads: int, produce: raw_producers.Produce) -> LoadResult:
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


Slice = Callable[[int], tuple[LoadResult, float]]  # slice i -> (result, CPU seconds)


def http_slice(api, requests: list[bytes], concurrency: int, warm_ups: int,
               max_seconds: float) -> Slice:
    """The first `warm_ups` requests sent untimed; then slice i of the rest, with the CPU
    the API's process spent on it."""
    warm_up, measured = requests[:warm_ups], requests[warm_ups:]
    asyncio.run(load(api.host, api.port, warm_up, concurrency, max_seconds))

    def one_slice(i: int) -> tuple[LoadResult, float]:
        cpu = _cpu_seconds(api.pid)
        result = asyncio.run(load(api.host, api.port, measured[i::ROUNDS], concurrency,
                                  max_seconds / ROUNDS))
        return result, _cpu_seconds(api.pid) - cpu
    return one_slice


def alternating(slices: list[Slice], rounds: int = ROUNDS) -> list[tuple[LoadResult, float]]:
    """Run each scenario's `rounds` slices, the scenarios' order reversed every round;
    each scenario's slices summed into one result."""
    totals = [(LoadResult(seconds=0.0), [0.0]) for _ in slices]
    for i in range(rounds):
        order = list(range(len(slices)))
        for k in order if i % 2 == 0 else reversed(order):
            result, cpu = slices[k](i)
            total, total_cpu = totals[k]
            total.seconds += result.seconds
            total.latencies += result.latencies
            total.statuses.update(result.statuses)
            total_cpu[0] += cpu
    return [(result, cpu[0]) for result, cpu in totals]


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
    """b/a and c/d of throughput (the goals), c/e (against the client the API used before),
    and the same ratios of latency and CPU."""
    a, b, c, d, e = rows
    out = {}
    for name, x, y in (("b/a", b, a), ("c/d", c, d), ("c/e", c, e)):
        out[name] = x.records_per_s / y.records_per_s
        out[f"{name} p50"] = x.latency_ms(0.5) / y.latency_ms(0.5)
        out[f"{name} p99"] = x.latency_ms(0.99) / y.latency_ms(0.99)
        out[f"{name} CPU/request"] = x.cpu_us_per_request / y.cpu_us_per_request
    return out


def run(events: int = 20000, purchase_requests: int = 80, per_request: int = 500,
        connections: int = 32, purchase_connections: int = 4, max_seconds: float = 30.0,
        seed: int = 1, console: Console | None = None) -> list[Figure]:
    """Run (a) to (e), print the table and the ratios, return the figures."""
    console = console or make_console()
    settings = get_settings()
    event_pool, arrays = _records(seed, WARM_UP_EVENTS + events,
                                  WARM_UP_BATCHES + purchase_requests, per_request)
    log = Path(tempfile.mkdtemp(prefix="shopstream-bench-")) / "api.log"
    with bench_topics(settings) as environment:
        rows = _run_all(settings, log, environment, event_pool, arrays, per_request,
                        connections, purchase_connections, max_seconds)
    found = ratios(rows)
    console.print(table(rows))
    console.print(f"throughput b/a = {found['b/a']:.2f} (goal >= 0.6), "
                  f"c/d = {found['c/d']:.2f} (goal >= 0.8), c/e = {found['c/e']:.2f}")
    console.print("  ".join(f"{k} = {v:.2f}" for k, v in found.items() if " " in k))
    console.print(f"{connections} connections for (a) and (b), {purchase_connections} for (c) "
                  f"to (e); load average {' '.join(f'{x:.1f}' for x in psutil.getloadavg())}; "
                  f"API log: {log}")
    if len(kafka.nodes(settings)) == 1:
        return figures(rows)
    from apps.bench import replication  # a cluster (the cluster profile): what replicas cost

    return figures(rows) + replication.run(settings, console)


def figures(rows: list[Row]) -> list[Figure]:
    """The goals' throughput ratios, then latency and CPU against the same references."""
    a, b, c, d, e = rows
    out = [Figure("ingest", f"{b.name} records/s", b.records_per_s, "records/s",
                  f"{a.name} records/s", a.records_per_s, ">= 0.6"),
           Figure("ingest", f"{c.name} records/s", c.records_per_s, "records/s",
                  f"{d.name} records/s", d.records_per_s, ">= 0.8"),
           Figure("ingest", f"{c.name} records/s", c.records_per_s, "records/s",
                  f"{e.name} records/s", e.records_per_s)]
    for x, y in ((b, a), (c, d)):
        out += [Figure("ingest", f"{x.name} p99", x.latency_ms(0.99), "ms",
                       f"{y.name} p99 ms", y.latency_ms(0.99)),
                Figure("ingest", f"{x.name} CPU/request", x.cpu_us_per_request, "µs",
                       f"{y.name} CPU µs/request", y.cpu_us_per_request)]
    return out


def _run_all(settings: Settings, log: Path, environment: dict[str, str], event_pool, arrays,
             per_request: int, connections: int, purchase_connections: int,
             max_seconds: float) -> list[Row]:
    topic = environment["KAFKA_PURCHASES_TOPIC"]
    batches = [[(topic, kafka_key(p), kafka_value(p)) for p in a] for a in arrays]
    with ExitStack() as stack:
        api = stack.enter_context(running_api(settings, log, app="apps.api.main:bench_app",
                                              factory=True, environment=environment))
        api.wait_for_health(200)
        target = f"{api.host}:{api.port}"
        event_bodies = [kafka_value(e) for e in event_pool]
        bulk = [http_request("POST", "/PurchasedItems", target, PURCHASED_ITEMS.dump_json(a))
                for a in arrays]

        def http(requests: list[bytes], concurrency: int, warm_ups: int) -> Slice:
            return http_slice(api, requests, concurrency, warm_ups, max_seconds)

        def raw(produce: raw_producers.Produce) -> Slice:
            warm_up, measured = batches[:WARM_UP_BATCHES], batches[WARM_UP_BATCHES:]
            _timed(warm_up, purchase_connections, produce)

            def one_slice(i: int) -> tuple[LoadResult, float]:
                cpu = _cpu_seconds()
                result = _timed(measured[i::ROUNDS], purchase_connections, produce)
                return result, _cpu_seconds() - cpu
            return one_slice

        events = alternating([
            http([http_request("PUT", "/bench/noop", target, b) for b in event_bodies],
                 connections, WARM_UP_EVENTS),
            http([http_request("PUT", "/SendEvent", target, b) for b in event_bodies],
                 connections, WARM_UP_EVENTS)])
        purchases = alternating([
            http(bulk, purchase_connections, WARM_UP_BATCHES),
            raw(stack.enter_context(raw_producers.librdkafka(settings))),
            raw(stack.enter_context(raw_producers.kafka_python(settings)))])
    names = ["(a) PUT /bench/noop", "(b) PUT /SendEvent",
             f"(c) POST /PurchasedItems x{per_request}",
             f"(d) raw producer (librdkafka) x{per_request}",
             f"(e) raw kafka-python x{per_request}"]
    sizes = [1, 1, per_request, per_request, per_request]
    return [Row(name, size, result, cpu)
            for name, size, (result, cpu) in zip(names, sizes, events + purchases, strict=True)]


if __name__ == "__main__":
    run()
