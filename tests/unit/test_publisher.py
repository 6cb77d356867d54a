"""KafkaPublisher's promise, through its producer seam: a request resolves only once Kafka
acknowledged every one of its records, and any failure purges and retires the producer
before the request is answered.

The producer here is a stand-in for confluent-kafka's `Producer` (the publisher's logic is
pure: count delivery reports, decide, purge, retire): reports are queued by the test and
served when the publisher polls, as librdkafka does. tests/integration/test_publisher_kafka.py
runs the same publisher against the real broker.
"""

from __future__ import annotations

import asyncio
import json
import threading
from types import SimpleNamespace

import pytest
from confluent_kafka import KafkaError, KafkaException

from apps.api.publisher import KafkaPublisher, KafkaUnavailable, Message, producer_config

TOPICS = ("UserEvents", "PurchasedItem")
MESSAGES = [Message("UserEvents", f"u-{i}".encode(), b"{}") for i in range(3)]


class ScriptedProducer:
    """Holds every produced record; the test decides when and how each is answered."""

    def __init__(self, refuse_produce: Exception | None = None, topics=TOPICS,
                 metadata_error: Exception | None = None):
        self.refuse_produce = refuse_produce
        self.metadata_error = metadata_error
        self.topics = topics
        self.config: dict = {}
        self.sent: list[tuple[str, bytes, bytes]] = []
        self.pending: dict[int, object] = {}  # index in sent -> its on_delivery
        self.reports: list[tuple[object, KafkaError | None]] = []  # served by poll()
        self.events: list[str] = []  # "purge", "close": what was done to it, in order
        self.closed = threading.Event()

    # What the test does, as the broker would
    def ack(self, i: int) -> None:
        self.reports.append((self.pending.pop(i), None))

    def fail(self, i: int, code: int) -> None:
        self.reports.append((self.pending.pop(i), KafkaError(code)))

    # confluent_kafka.Producer's interface, as the publisher uses it
    def list_topics(self, timeout: float):
        if self.metadata_error:
            raise self.metadata_error
        part = SimpleNamespace(error=None, partitions={0: None, 1: None, 2: None})
        return SimpleNamespace(topics={t: part for t in self.topics})

    def produce(self, topic, value, key, on_delivery) -> None:
        if self.refuse_produce:
            raise self.refuse_produce
        self.pending[len(self.sent)] = on_delivery
        self.sent.append((topic, key, value))

    def poll(self, timeout: float) -> int:
        served, self.reports = self.reports, []
        for callback, error in served:
            callback(error, None)
        return len(served)

    def purge(self, in_queue: bool, in_flight: bool, blocking: bool) -> None:
        assert in_queue and in_flight, "a retired producer must drop queued and in-flight"
        self.events.append("purge")
        for i in list(self.pending):
            self.fail(i, KafkaError._PURGE_QUEUE)

    def close(self) -> None:
        self.events.append("close")
        self.closed.set()

    def __len__(self) -> int:
        return len(self.pending) + len(self.reports)

    def report_stats(self, broker_state: str) -> None:
        self.config["stats_cb"](json.dumps({"brokers": {"b1": {"state": broker_state}}}))


class Factory:
    def __init__(self, *producers: ScriptedProducer):
        self.producers = list(producers)
        self.made: list[ScriptedProducer] = []

    def __call__(self, config: dict) -> ScriptedProducer:
        producer = self.producers.pop(0)
        producer.config = config
        self.made.append(producer)
        return producer


def publisher_of(*producers: ScriptedProducer, ack_timeout_s: float = 5.0):
    factory = Factory(*producers)
    return KafkaPublisher(["kafka:9092"], ack_timeout_s, TOPICS, factory), factory


async def started_publish(publisher: KafkaPublisher, producer: ScriptedProducer,
                          messages=MESSAGES) -> asyncio.Task:
    """Start a publish and return once every record was handed to the producer."""
    task = asyncio.create_task(publisher.publish(messages))
    while len(producer.pending) < len(messages) and not task.done():
        await asyncio.sleep(0.001)
    return task


async def settle() -> None:
    await asyncio.sleep(0.02)  # several poll intervals: queued reports are served


async def closed(producer: ScriptedProducer) -> bool:
    return await asyncio.to_thread(producer.closed.wait, 5)


def test_the_producer_is_idempotent_acks_all_and_partitions_like_the_java_client():
    config = producer_config(["a:9092", "b:9092"], 5.0)
    assert config["bootstrap.servers"] == "a:9092,b:9092"
    assert (config["acks"], config["enable.idempotence"]) == ("all", True)
    assert config["partitioner"] == "murmur2_random"
    assert config["message.timeout.ms"] == 5000  # a record's delivery timeout: the ack timeout


def test_a_publish_resolves_only_after_the_last_ack():
    async def scenario():
        producer = ScriptedProducer()
        publisher, _ = publisher_of(producer)
        task = await started_publish(publisher, producer)
        for i in range(len(MESSAGES) - 1):
            producer.ack(i)
            await settle()
        assert not task.done(), "answered before Kafka acknowledged every record"
        producer.ack(len(MESSAGES) - 1)
        await asyncio.wait_for(task, 1)
        assert producer.events == []
        assert producer.sent == [(m.topic, m.key, m.value) for m in MESSAGES]

    asyncio.run(scenario())


def test_one_failed_record_fails_the_request_and_retires_the_producer():
    async def scenario():
        producer, replacement = ScriptedProducer(), ScriptedProducer()
        publisher, factory = publisher_of(producer, replacement)
        task = await started_publish(publisher, producer)
        producer.ack(0)
        producer.fail(1, KafkaError.NOT_ENOUGH_REPLICAS)
        with pytest.raises(KafkaUnavailable, match="Not enough in-sync replicas|NOT_ENOUGH"):
            await asyncio.wait_for(task, 1)
        # Its last record was purged before the answer (never sent), then it was closed...
        assert producer.events[0] == "purge" and producer.pending == {}
        assert await closed(producer)
        # ...and the next request gets a fresh one.
        task = await started_publish(publisher, replacement, MESSAGES[:1])
        replacement.ack(0)
        await asyncio.wait_for(task, 1)
        assert factory.made == [producer, replacement]

    asyncio.run(scenario())


def test_a_failure_purges_the_other_requests_records_before_anything_is_answered():
    async def scenario():
        producer = ScriptedProducer()
        publisher, _ = publisher_of(producer)
        failing = await started_publish(publisher, producer, MESSAGES[:1])
        waiting = await started_publish(publisher, producer, MESSAGES[1:])
        purged_before_answer = []
        failing.add_done_callback(lambda _: purged_before_answer.append(producer.events[:1]))
        producer.fail(0, KafkaError._MSG_TIMED_OUT)
        for task in (failing, waiting):
            with pytest.raises(KafkaUnavailable):
                await asyncio.wait_for(task, 1)
        assert purged_before_answer == [["purge"]]
        assert producer.pending == {}, "records of a retired producer could still be sent"

    asyncio.run(scenario())


def test_no_acknowledgement_within_the_timeout_is_unavailable_and_retires_the_producer():
    async def scenario():
        producer = ScriptedProducer()
        publisher, _ = publisher_of(producer, ack_timeout_s=0.05)
        task = await started_publish(publisher, producer)
        producer.ack(0)
        with pytest.raises(KafkaUnavailable, match="no acknowledgement within 0.05s"):
            await asyncio.wait_for(task, 5)
        assert producer.events[0] == "purge" and producer.pending == {}
        assert await closed(producer)
        assert publisher.readiness() == (False, "producer failed: ")

    asyncio.run(scenario())


def test_a_producer_that_refuses_a_record_is_retired_and_nothing_is_claimed():
    async def scenario():
        producer = ScriptedProducer(refuse_produce=BufferError("Local: Queue full"))
        publisher, _ = publisher_of(producer)
        with pytest.raises(KafkaUnavailable, match="Kafka refused the records: Local: Queue full"):
            await publisher.publish(MESSAGES)
        assert producer.events[0] == "purge"
        assert await closed(producer)

    asyncio.run(scenario())


def test_while_kafka_is_down_requests_fail_fast_and_the_keeper_reconnects():
    async def scenario():
        down = ScriptedProducer(metadata_error=KafkaException(KafkaError(KafkaError._TRANSPORT)))
        back = ScriptedProducer()
        publisher, factory = publisher_of(down, back)
        with pytest.raises(KafkaUnavailable, match="cannot connect to Kafka"):
            await publisher.publish(MESSAGES)
        assert await closed(down)
        assert publisher.readiness()[0] is False
        await publisher.start()  # the keeper retries once a second
        for _ in range(300):
            if publisher.readiness()[0]:
                break
            await asyncio.sleep(0.01)
        assert publisher.readiness() == (True, "connected")
        task = await started_publish(publisher, back, MESSAGES[:1])
        back.ack(0)
        await asyncio.wait_for(task, 1)
        await publisher.stop()
        assert factory.made == [down, back]

    asyncio.run(scenario())


def test_a_missing_topic_is_not_ready():
    async def scenario():
        producer = ScriptedProducer(topics=("UserEvents",))
        publisher, _ = publisher_of(producer)
        with pytest.raises(KafkaUnavailable, match="topic PurchasedItem has no partitions"):
            await publisher.publish(MESSAGES)

    asyncio.run(scenario())


def test_readiness_follows_the_producers_broker_reports():
    async def scenario():
        producer = ScriptedProducer()
        publisher, _ = publisher_of(producer)
        task = await started_publish(publisher, producer, MESSAGES[:1])
        producer.ack(0)
        await asyncio.wait_for(task, 1)
        assert publisher.readiness() == (True, "connected")
        producer.config["error_cb"](KafkaError(KafkaError._ALL_BROKERS_DOWN))
        assert publisher.readiness() == (False, "no connection to any Kafka broker")
        producer.report_stats("UP")
        assert publisher.readiness() == (True, "connected")

    asyncio.run(scenario())


def test_purging_and_closing_a_failed_producer_never_block_the_event_loop():
    class SlowProducer(ScriptedProducer):  # librdkafka's purge and close may take a while
        def purge(self, in_queue: bool, in_flight: bool, blocking: bool) -> None:
            threading.Event().wait(0.8)
            super().purge(in_queue, in_flight, blocking)

        def close(self) -> None:
            threading.Event().wait(0.8)
            super().close()

    async def scenario():
        producer = SlowProducer()
        publisher, _ = publisher_of(producer)
        task = await started_publish(publisher, producer)
        longest_gap, last = 0.0, asyncio.get_running_loop().time()
        producer.fail(0, KafkaError._MSG_TIMED_OUT)
        while not producer.closed.is_set():
            await asyncio.sleep(0.01)
            now = asyncio.get_running_loop().time()
            longest_gap, last = max(longest_gap, now - last), now
        with pytest.raises(KafkaUnavailable):
            await task
        assert longest_gap < 0.5, f"the event loop stood still for {longest_gap:.2f}s"

    asyncio.run(scenario())


def test_requests_left_without_a_report_by_a_retired_producer_are_answered_at_once():
    class SilentPurge(ScriptedProducer):  # purged records whose reports never come
        def purge(self, in_queue: bool, in_flight: bool, blocking: bool) -> None:
            self.events.append("purge")
            self.pending.clear()

    async def scenario():
        producer = SilentPurge()
        publisher, _ = publisher_of(producer, ack_timeout_s=30)
        failing = await started_publish(publisher, producer, MESSAGES[:1])
        waiting = await started_publish(publisher, producer, MESSAGES[1:])
        producer.fail(0, KafkaError._MSG_TIMED_OUT)
        for task in (failing, waiting):  # long before the 30 s deadline
            with pytest.raises(KafkaUnavailable):
                await asyncio.wait_for(task, 2)
        assert producer.events[0] == "purge"

    asyncio.run(scenario())
