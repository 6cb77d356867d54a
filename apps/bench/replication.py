"""`invoke bench ingest`'s part for a Kafka cluster (the cluster profile): what replication
costs ingestion. Two APIs, one producing to topics with replication 3 and two replicas in
sync for an ack (the pipeline's), one to topics with replication 1, on the same brokers;
the same PUTs and POSTs through each, in alternating slices.
"""

from __future__ import annotations

import tempfile
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

from confluent_kafka.admin import AdminClient, NewTopic
from rich.console import Console

from apps.api.local_server import running_api
from apps.bench.ingest import Row, Slice, _records, alternating, http_slice, table
from apps.bench.load import http_request
from apps.bench.report import Figure
from apps.contract.models import PURCHASED_ITEMS, TOPIC_PARTITIONS, kafka_value
from apps.settings import Settings
from apps.stack.services import kafka

WARM_UP_EVENTS, WARM_UP_BATCHES = 4000, 8


@contextmanager
def topics_with(settings: Settings, replicas: int, min_insync: int) -> Iterator[dict[str, str]]:
    """A pair of topics of the run's own with this replication; the API's environment
    pointing at them. Deleted afterwards."""
    suffix = f"rf{replicas}-{uuid.uuid4().hex[:8]}"
    environment = {"KAFKA_USER_EVENTS_TOPIC": f"bench-UserEvents-{suffix}",
                   "KAFKA_PURCHASES_TOPIC": f"bench-PurchasedItem-{suffix}"}
    admin = AdminClient({"bootstrap.servers": settings.kafka_bootstrap_servers})
    created = admin.create_topics([
        NewTopic(t, TOPIC_PARTITIONS, replicas, config={"min.insync.replicas": str(min_insync)})
        for t in environment.values()])
    for future in created.values():
        future.result()
    try:
        yield environment
    finally:
        for future in admin.delete_topics(list(environment.values())).values():
            future.result()


def run(settings: Settings, console: Console, events: int = 20000, purchase_requests: int = 80,
        per_request: int = 500, connections: int = 32, purchase_connections: int = 4,
        max_seconds: float = 30.0, seed: int = 3) -> list[Figure]:
    """PUT /SendEvent and POST /PurchasedItems, replication 3 beside replication 1."""
    event_pool, arrays = _records(seed, WARM_UP_EVENTS + events,
                                  WARM_UP_BATCHES + purchase_requests, per_request)
    events_bodies = [kafka_value(e) for e in event_pool]
    bulk_bodies = [PURCHASED_ITEMS.dump_json(a) for a in arrays]
    folder = Path(tempfile.mkdtemp(prefix="shopstream-bench-replication-"))
    with ExitStack() as stack:
        apis = {}
        for replicas, min_insync in ((kafka.replicas(settings), kafka.min_insync(settings)),
                                     (1, 1)):
            environment = stack.enter_context(topics_with(settings, replicas, min_insync))
            api = stack.enter_context(running_api(settings, folder / f"api-rf{replicas}.log",
                                                  environment=environment))
            api.wait_for_health(200)
            apis[replicas] = api

        def http(api, method: str, path: str, bodies: list[bytes], concurrency: int,
                 warm_ups: int) -> Slice:
            target = f"{api.host}:{api.port}"
            return http_slice(api, [http_request(method, path, target, b) for b in bodies],
                              concurrency, warm_ups, max_seconds)

        replicated, single = apis[kafka.replicas(settings)], apis[1]
        puts = alternating([http(a, "PUT", "/SendEvent", events_bodies, connections,
                                 WARM_UP_EVENTS) for a in (replicated, single)])
        posts = alternating([http(a, "POST", "/PurchasedItems", bulk_bodies,
                                  purchase_connections, WARM_UP_BATCHES)
                             for a in (replicated, single)])
    rf = kafka.replicas(settings)
    rows = [Row(f"PUT /SendEvent, replication {rf}", 1, *puts[0]),
            Row("PUT /SendEvent, replication 1", 1, *puts[1]),
            Row(f"POST /PurchasedItems x{per_request}, replication {rf}", per_request, *posts[0]),
            Row(f"POST /PurchasedItems x{per_request}, replication 1", per_request, *posts[1])]
    console.print(table(rows))
    put3, put1, post3, post1 = rows
    console.print(f"replication {rf} / replication 1, records/s: PUT "
                  f"{put3.records_per_s / put1.records_per_s:.2f}, POST "
                  f"{post3.records_per_s / post1.records_per_s:.2f}; p99: PUT "
                  f"{put3.latency_ms(0.99) / put1.latency_ms(0.99):.2f}, POST "
                  f"{post3.latency_ms(0.99) / post1.latency_ms(0.99):.2f}; API logs: {folder}")
    return [Figure("ingest", f"{x.name} records/s", x.records_per_s, "records/s",
                   f"{y.name} records/s", y.records_per_s) for x, y in ((put3, put1), (post3, post1))]
