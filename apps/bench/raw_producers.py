"""The ingest benchmark's references for bulk purchases: Kafka producers driven directly,
with no HTTP and no validation. Each yields `produce(batch)`, which returns once Kafka
acknowledged every (topic, key, value) of the batch."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from confluent_kafka import Producer
from kafka import KafkaProducer

from apps.api.publisher import producer_config
from apps.settings import Settings

Batch = list[tuple[str, bytes, bytes]]
Produce = Callable[[Batch], None]


@contextmanager
def librdkafka(settings: Settings) -> Iterator[Produce]:
    """The API's client with the API's settings; one thread serves the delivery reports."""
    timeout_s = settings.api_kafka_ack_timeout
    producer = Producer(producer_config(settings.kafka_servers, timeout_s))
    stop = threading.Event()

    def serve_reports() -> None:
        while not stop.is_set():
            producer.poll(0.1)

    def produce(batch: Batch) -> None:
        left, done, failed = [len(batch)], threading.Event(), []

        def delivered(error, _message) -> None:
            if error is not None:
                failed.append(error)
            left[0] -= 1
            if not left[0]:
                done.set()

        for topic, key, value in batch:
            producer.produce(topic, value, key, on_delivery=delivered)
        if not done.wait(timeout_s) or failed:
            raise RuntimeError(f"raw producer: {failed or 'no acknowledgement'}")

    poller = threading.Thread(target=serve_reports)
    poller.start()
    try:
        yield produce
    finally:
        stop.set()
        poller.join()
        producer.flush(10)


@contextmanager
def kafka_python(settings: Settings) -> Iterator[Produce]:
    """kafka-python's producer with the settings the API used with it before librdkafka."""
    timeout_s = settings.api_kafka_ack_timeout
    delivery_ms = int(timeout_s * 1000)
    producer = KafkaProducer(
        bootstrap_servers=settings.kafka_servers, acks="all", enable_idempotence=True,
        linger_ms=2, batch_size=512 * 1024, max_request_size=2 * 1024 * 1024,
        delivery_timeout_ms=delivery_ms, request_timeout_ms=delivery_ms - 2)

    def produce(batch: Batch) -> None:
        futures = [producer.send(topic, value=value, key=key) for topic, key, value in batch]
        for future in futures:
            future.get(timeout=timeout_s)

    try:
        yield produce
    finally:
        producer.close()
