"""KafkaPublisher's promise, through its producer seam: a request resolves only once Kafka
acknowledged every one of its records, and any failure retires the producer.

The producer here is a stand-in for kafka-python's (the publisher's logic is pure: count
acknowledgements, decide, retire); tests/integration/test_publisher.py runs the same
publisher against the real broker.
"""

from __future__ import annotations

import asyncio
import threading

import pytest
from kafka.errors import KafkaError, KafkaTimeoutError

from apps.api.publisher import KafkaPublisher, KafkaUnavailable, Message

MESSAGES = [Message("UserEvents", f"u-{i}".encode(), b"{}") for i in range(3)]


class SendFuture:
    """What `KafkaProducer.send()` returns: callbacks run when the broker answers."""

    def __init__(self) -> None:
        self.callbacks, self.errbacks = [], []

    def add_callback(self, fn):
        self.callbacks.append(fn)
        return self

    def add_errback(self, fn):
        self.errbacks.append(fn)
        return self

    def ack(self) -> None:  # called from the producer's I/O thread, as kafka-python does
        for fn in self.callbacks:
            fn("metadata")

    def fail(self, error: Exception) -> None:
        for fn in self.errbacks:
            fn(error)


class ScriptedProducer:
    """Holds every sent record's future; the test decides when and how each is answered."""

    def __init__(self, refuse_send: Exception | None = None, close_raises: bool = False):
        self.sent: list[SendFuture] = []
        self.refuse_send = refuse_send
        self.close_raises = close_raises
        self.closed = threading.Event()
        self.force_closed = False
        self._sender = self

    def partitions_for(self, topic: str) -> set[int]:
        return {0, 1, 2}

    def send(self, topic, value, key) -> SendFuture:
        if self.refuse_send:
            raise self.refuse_send
        future = SendFuture()
        self.sent.append(future)
        return future

    def close(self, timeout) -> None:
        self.closed.set()
        if self.close_raises:
            raise KafkaTimeoutError("flush timed out")

    def force_close(self) -> None:
        self.force_closed = True

    def metrics(self) -> dict:
        return {"producer-metrics": {"connection-count": 1}}


class Factory:
    def __init__(self, *producers: ScriptedProducer):
        self.producers = list(producers)
        self.made: list[ScriptedProducer] = []

    def __call__(self, **config) -> ScriptedProducer:
        self.made.append(self.producers.pop(0))
        return self.made[-1]


async def started_publish(publisher: KafkaPublisher, producer: ScriptedProducer,
                          messages=MESSAGES) -> asyncio.Task:
    """Start a publish and return once every record was handed to the producer."""
    task = asyncio.create_task(publisher.publish(messages))
    while len(producer.sent) < len(messages) and not task.done():
        await asyncio.sleep(0.001)
    return task


async def answer_in_io_thread(action) -> None:
    thread = threading.Thread(target=action)
    thread.start()
    await asyncio.to_thread(thread.join)
    await asyncio.sleep(0.01)  # let call_soon_threadsafe deliver


def test_a_publish_resolves_only_after_the_last_ack():
    async def scenario():
        producer = ScriptedProducer()
        publisher = KafkaPublisher(["kafka:9092"], 5.0, Factory(producer))
        task = await started_publish(publisher, producer)
        for future in producer.sent[:-1]:
            await answer_in_io_thread(future.ack)
        assert not task.done(), "answered before Kafka acknowledged every record"
        await answer_in_io_thread(producer.sent[-1].ack)
        await asyncio.wait_for(task, 1)
        assert not producer.closed.is_set()

    asyncio.run(scenario())


def test_one_failed_record_fails_the_request_even_when_the_others_are_acked():
    async def scenario():
        producer, replacement = ScriptedProducer(), ScriptedProducer()
        factory = Factory(producer, replacement)
        publisher = KafkaPublisher(["kafka:9092"], 5.0, factory)
        task = await started_publish(publisher, producer)
        await answer_in_io_thread(producer.sent[0].ack)
        await answer_in_io_thread(lambda: producer.sent[1].fail(KafkaError("NotEnoughReplicas")))
        await answer_in_io_thread(producer.sent[2].ack)
        with pytest.raises(KafkaUnavailable, match="NotEnoughReplicas"):
            await asyncio.wait_for(task, 1)
        # The failed producer is retired (what it still holds is aborted, never sent)...
        await asyncio.to_thread(producer.closed.wait, 5)
        assert producer.closed.is_set()
        # ...and the next request gets a fresh one.
        task = await started_publish(publisher, replacement, MESSAGES[:1])
        await answer_in_io_thread(replacement.sent[0].ack)
        await asyncio.wait_for(task, 1)
        assert factory.made == [producer, replacement]

    asyncio.run(scenario())


def test_no_acknowledgement_within_the_timeout_is_unavailable_and_retires_the_producer():
    async def scenario():
        producer = ScriptedProducer()
        publisher = KafkaPublisher(["kafka:9092"], 0.05, Factory(producer))
        task = await started_publish(publisher, producer)
        await answer_in_io_thread(producer.sent[0].ack)
        with pytest.raises(KafkaUnavailable, match="no acknowledgement within 0.05s"):
            await asyncio.wait_for(task, 5)
        await asyncio.to_thread(producer.closed.wait, 5)
        assert producer.closed.is_set()
        assert publisher.readiness() == (False, "producer failed: ")

    asyncio.run(scenario())


def test_a_producer_that_refuses_a_send_is_retired_and_nothing_is_claimed():
    async def scenario():
        producer = ScriptedProducer(refuse_send=KafkaError("producer closed"))
        publisher = KafkaPublisher(["kafka:9092"], 5.0, Factory(producer))
        with pytest.raises(KafkaUnavailable, match="Kafka refused the records: .*producer closed"):
            await publisher.publish(MESSAGES)
        await asyncio.to_thread(producer.closed.wait, 5)
        assert producer.closed.is_set()

    asyncio.run(scenario())


def test_a_stuck_producer_whose_close_fails_has_its_io_thread_stopped():
    async def scenario():
        producer = ScriptedProducer(close_raises=True)
        publisher = KafkaPublisher(["kafka:9092"], 0.05, Factory(producer))
        task = await started_publish(publisher, producer)
        with pytest.raises(KafkaUnavailable):
            await asyncio.wait_for(task, 5)
        await asyncio.to_thread(producer.closed.wait, 5)
        for _ in range(100):
            if producer.force_closed:
                break
            await asyncio.sleep(0.01)
        assert producer.force_closed

    asyncio.run(scenario())
