"""The ingestion API against the real Kafka broker: what it accepts is in Kafka, byte for
byte; what it refuses while Kafka is down never gets there; it recovers by itself."""

from __future__ import annotations

import asyncio
import json
import threading
import time
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from urllib.parse import urlsplit

import httpx
import pytest
from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition
from kafka.admin import NewTopic
from kafka.errors import TopicAlreadyExistsError

from apps.api.local_server import free_port, running_api
from apps.contract.models import (
    PURCHASED_ITEMS,
    PURCHASES_TOPIC,
    TOPIC_PARTITIONS,
    USER_EVENTS_TOPIC,
    kafka_key,
    kafka_value,
    topic_for,
)
from apps.generator.sender import Stats, run_batches
from apps.generator.traffic import TrafficBuilder

pytestmark = pytest.mark.integration

ACK_TIMEOUT_S = 5.0
START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
READ_TIMEOUT_S = 60
JSON = {"content-type": "application/json"}
TOPICS = (USER_EVENTS_TOPIC, PURCHASES_TOPIC)

Offsets = dict[TopicPartition, int]


@pytest.fixture(scope="module")
def topics(stack) -> None:
    """The contract's topics exist (created here if missing; safe to run again)."""
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_servers)
    try:
        for topic in set(TOPICS) - set(admin.list_topics()):
            try:
                admin.create_topics([NewTopic(topic, TOPIC_PARTITIONS, 1)])
            except TopicAlreadyExistsError:
                pass
    finally:
        admin.close()


@pytest.fixture(scope="module")
def api(stack, topics, tmp_path_factory):
    with running_api(stack, tmp_path_factory.mktemp("api") / "api.log",
                     ack_timeout_s=ACK_TIMEOUT_S) as server:
        server.wait_for_health(200)
        yield server


def end_offsets(settings) -> Offsets:
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers)
    try:
        partitions = [TopicPartition(t, p) for t in TOPICS for p in range(TOPIC_PARTITIONS)]
        return consumer.end_offsets(partitions)
    finally:
        consumer.close()


def read_between(settings, start: Offsets, end: Offsets) -> list[tuple[str, bytes, bytes]]:
    """Every message from `start` up to (not including) `end`: (topic, key, value)."""
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_servers, enable_auto_commit=False)
    messages = []
    try:
        consumer.assign(list(start))
        for partition, offset in start.items():
            consumer.seek(partition, offset)
        deadline = time.monotonic() + READ_TIMEOUT_S
        while any(consumer.position(p) < end[p] for p in start):
            assert time.monotonic() < deadline, "the topics' messages could not be read back"
            for partition, batch in consumer.poll(timeout_ms=500).items():
                messages += [(m.topic, m.key, m.value) for m in batch if m.offset < end[partition]]
    finally:
        consumer.close()
    return messages


def of_sessions(messages, sessions: set[str]) -> Counter:
    """The messages that belong to these sessions (other producers may share the topics)."""
    return Counter(m for m in messages if json.loads(m[2])["SessionId"] in sessions)


def expected(records) -> Counter:
    return Counter((topic_for(r), kafka_key(r), kafka_value(r)) for r in records)


def put_event(url: str, event) -> httpx.Response:
    return httpx.put(f"{url}/SendEvent", content=kafka_value(event), headers=JSON, timeout=30)


def post_purchases(url: str, purchases) -> httpx.Response:
    return httpx.post(f"{url}/PurchasedItems", content=PURCHASED_ITEMS.dump_json(purchases),
                      headers=JSON, timeout=30)


def sessions_of(records) -> set[str]:
    return {r.SessionId for r in records}


def test_accepted_records_are_in_kafka_byte_identical_on_their_topic_and_key(api, stack):
    batch = TrafficBuilder(seed=20251, users=40, products=25).batch(25)
    before = end_offsets(stack)

    for event in batch.events:
        response = put_event(api.url, event)
        assert (response.status_code, response.json()) == (202, {"accepted": 1})
    response = post_purchases(api.url, batch.purchases)
    assert (response.status_code, response.json()) == (202, {"accepted": 25})

    records = batch.events + batch.purchases
    read = read_between(stack, before, end_offsets(stack))
    assert of_sessions(read, sessions_of(records)) == expected(records)


def test_with_kafka_down_nothing_is_claimed_and_the_api_recovers_alone(
        api, stack, service_control, tmp_path):
    builder = TrafficBuilder(seed=20252, users=40, products=25)
    refused, accepted, background = builder.batch(20), builder.batch(20), builder.batch(200)
    before = end_offsets(stack)

    # Traffic keeps flowing while the broker stops, so records are in flight at that moment.
    stopping = threading.Event()
    answered: list[tuple[object, int]] = []  # (event, status) of the traffic during the stop

    def keep_sending() -> None:
        for event in background.events:
            if stopping.is_set():
                return
            answered.append((event, put_event(api.url, event).status_code))

    with ThreadPoolExecutor(1) as pool:
        flow = pool.submit(keep_sending)
        service_control.stop("kafka")
        stopping.set()
        flow.result()
    assert answered and {status for _, status in answered} <= {202, 503}
    api.wait_for_health(503)
    with running_api(stack, tmp_path / "fresh-api.log", ack_timeout_s=ACK_TIMEOUT_S) as fresh:
        fresh.wait_for_health(503)  # it starts and serves while Kafka is down

        for url, response in [(api.url, post_purchases(api.url, refused.purchases)),
                              (api.url, put_event(api.url, refused.events[0])),
                              (fresh.url, put_event(fresh.url, refused.events[1]))]:
            assert response.status_code == 503, f"{url}: {response.text}"
            assert response.headers["retry-after"] == "2"
            assert response.json()["error"] == "kafka_unavailable"

        service_control.start("kafka")
        api.wait_for_health(200)
        fresh.wait_for_health(200)
        response = post_purchases(api.url, accepted.purchases)
        assert (response.status_code, response.json()) == (202, {"accepted": 20})
        response = put_event(fresh.url, accepted.events[0])
        assert (response.status_code, response.json()) == (202, {"accepted": 1})

    read = read_between(stack, before, end_offsets(stack))
    assert of_sessions(read, sessions_of(refused.purchases + refused.events[:2])) == Counter()
    delivered = accepted.purchases + accepted.events[:1]
    assert of_sessions(read, sessions_of(delivered)) == expected(delivered)
    # What was answered 202 while the broker went down is in Kafka, exactly once; a record
    # answered 503 may or may not be (the client retries it): never more than once.
    in_kafka = of_sessions(read, sessions_of([e for e, _ in answered]))
    for event, status in answered:
        count = in_kafka[(topic_for(event), kafka_key(event), kafka_value(event))]
        assert count == 1 if status == 202 else count <= 1, (status, event)


def test_the_generator_retries_until_the_api_is_up_and_loses_nothing(stack, topics, tmp_path):
    clock = lambda: START  # noqa: E731 (a fixed clock: the records are known in advance)
    expected_batch = TrafficBuilder(seed=20253, users=40, products=25, clock=clock).batch(4)
    host = urlsplit(stack.api_url).hostname
    port = free_port(host)
    before = end_offsets(stack)

    async def generate_before_the_api_starts() -> Stats:
        stats, stop = Stats(), asyncio.Event()
        builder = TrafficBuilder(seed=20253, users=40, products=25, clock=clock)
        sending = asyncio.create_task(
            run_batches(builder, 4, f"http://{host}:{port}", stats, stop, duration=1))
        deadline = time.monotonic() + READ_TIMEOUT_S
        while stats.retried == 0:  # nothing listens yet: connection refused, retried
            assert time.monotonic() < deadline, "the generator never retried"
            await asyncio.sleep(0.05)
        with running_api(stack, tmp_path / "api.log", port=port):
            await sending
        return stats

    stats = asyncio.run(generate_before_the_api_starts())
    records = expected_batch.events + expected_batch.purchases
    assert (stats.sent, stats.accepted, stats.failed) == (len(records), len(records), 0)
    assert (stats.user_events, stats.purchases) == (len(expected_batch.events), 4)
    assert stats.retried > 0
    read = read_between(stack, before, end_offsets(stack))
    assert of_sessions(read, sessions_of(records)) == expected(records)


def edge_purchase(**changes) -> dict:
    """The largest order the contract allows: 100 products of 10,000 units at the highest
    unit price, 9,999,999,990,000.00 in all (numeric(16, 2) holds it)."""
    record = {"SessionId": "s-edge", "TimeStamp": "2025-06-01T12:00:00Z",
              "UserId": f"u-edge-{time.time_ns()}", "OrderId": f"o-edge-{time.time_ns()}",
              "TotalPrice": 9_999_999_990_000.0, "PaymentType": "CreditCard",
              "Products": [{"ProductId": f"p-{i}", "ItemCount": 10_000, "ItemPrice": 9_999_999.99,
                            "ItemDiscount": 0.0} for i in range(100)]}
    return {**record, **changes}


def test_the_contracts_edges_through_the_api_into_kafka_and_the_lakes_columns(stack, tmp_path):
    """On a purchases topic of its own: a 10-trillion order must not enter the pipeline."""
    from decimal import Decimal

    from apps.purchase_stream.validate import validate_value

    topic = f"test-edges-{uuid.uuid4().hex[:10]}"
    admin = KafkaAdminClient(bootstrap_servers=stack.kafka_servers)
    admin.create_topics([NewTopic(topic, TOPIC_PARTITIONS, 1)])
    partitions = [TopicPartition(topic, p) for p in range(TOPIC_PARTITIONS)]
    over = edge_purchase(TotalPrice=10_000_000.0, Products=[
        {"ProductId": "p-0", "ItemCount": 1, "ItemPrice": 10_000_000.0, "ItemDiscount": 0.0}])
    refused = {
        "one cent over the unit limit": (over, "body[0].Products[0].ItemPrice"),
        "three decimals": (edge_purchase(TotalPrice=9_999_999_990_000.001),
                           "body[0].TotalPrice"),
    }
    largest = edge_purchase()
    try:
        with running_api(stack, tmp_path / "api.log", ack_timeout_s=ACK_TIMEOUT_S,
                         environment={"KAFKA_PURCHASES_TOPIC": topic}) as api:
            api.wait_for_health(200)
            for why, (purchase, field) in refused.items():
                response = httpx.post(f"{api.url}/PurchasedItems", json=[purchase], timeout=30)
                assert response.status_code == 422, why
                assert [e["field"] for e in response.json()["detail"]] == [field], why
            response = httpx.post(f"{api.url}/PurchasedItems", json=[largest], timeout=30)
            assert (response.status_code, response.json()) == (202, {"accepted": 1})
        consumer = KafkaConsumer(bootstrap_servers=stack.kafka_servers)
        end = consumer.end_offsets(partitions)
        consumer.close()
        [value] = [v for _, _, v in read_between(stack, dict.fromkeys(partitions, 0), end)]
    finally:
        admin.delete_topics([topic])
        admin.close()
    columns, reason = validate_value(value)  # what the stream writes to raw/
    assert reason is None
    assert columns["TotalPrice"] == Decimal("9999999990000.00")
    assert {(p["ItemCount"], p["ItemPrice"]) for p in columns["Products"]} == {
        (10_000, Decimal("9999999.99"))}
    assert sum(p["ItemCount"] * p["ItemPrice"] for p in columns["Products"]) == \
        columns["TotalPrice"]
