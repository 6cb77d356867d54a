"""Publishes a request's records to Kafka and waits for every acknowledgement.

The producer is created lazily and re-created after a fatal error, so the API starts while
Kafka is down and recovers by itself when it returns. Waiting never blocks the event loop:
the producer's I/O thread reports each acknowledgement through `call_soon_threadsafe`.

A record's delivery timeout is the API's ack timeout, and a producer that failed a request
is stopped at once (aborting what it still holds) and replaced: a request answered 503 has
nothing left in the API that could still be sent behind the client's back.
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from kafka import KafkaProducer
from kafka.errors import KafkaError

from apps.api import metrics
from apps.contract.models import PURCHASES_TOPIC, USER_EVENTS_TOPIC

log = logging.getLogger(__name__)

RECONNECT_INTERVAL_S = 1.0  # how often a missing producer is re-created, at most
METADATA_MAX_AGE_MS = 5000  # the producer reconnects within this after Kafka returns
LINGER_MS = 2  # a few ms of batching: many concurrent requests share one produce request
BATCH_SIZE = 512 * 1024  # one batch holds a whole POST /PurchasedItems per partition
ACK_GRACE_S = 1.0  # beyond the delivery timeout, for the producer thread to report


class KafkaUnavailable(Exception):
    """Kafka could not take or acknowledge the records: the client should retry later."""


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: bytes
    value: bytes


def producer_config(servers: list[str], ack_timeout_s: float) -> dict:
    delivery_ms = int(ack_timeout_s * 1000)
    return {
        "bootstrap_servers": servers,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": min(LINGER_MS, delivery_ms // 2),
        "batch_size": BATCH_SIZE,
        "max_request_size": 4 * BATCH_SIZE,
        "delivery_timeout_ms": delivery_ms,
        "request_timeout_ms": delivery_ms - min(LINGER_MS, delivery_ms // 2),
        "max_block_ms": 1000,  # send() never waits for metadata: it is fetched up front
        "bootstrap_timeout_ms": min(delivery_ms, 5000),
        "reconnect_backoff_max_ms": 1000,
        "metadata_max_age_ms": METADATA_MAX_AGE_MS,
    }


class _Acks:
    """Counts one request's acknowledgements in the producer thread; resolves once."""

    __slots__ = ("_left", "_lock", "_loop", "future")

    def __init__(self, loop: asyncio.AbstractEventLoop, expected: int):
        self._loop = loop
        self._left = expected
        self._lock = threading.Lock()
        self.future: asyncio.Future[None] = loop.create_future()

    def acked(self, _metadata) -> None:
        with self._lock:
            self._left -= 1
            if self._left:
                return
        self._loop.call_soon_threadsafe(self._resolve, None)

    def failed(self, error: BaseException) -> None:
        self._loop.call_soon_threadsafe(self._resolve, error)

    def _resolve(self, error: BaseException | None) -> None:
        if self.future.done():
            return
        if error is None:
            self.future.set_result(None)
        else:
            self.future.set_exception(error)


class KafkaPublisher:
    def __init__(self, servers: list[str], ack_timeout_s: float,
                 producer_factory: Callable[..., KafkaProducer] = KafkaProducer):
        self._config = producer_config(servers, ack_timeout_s)
        self._ack_timeout_s = ack_timeout_s
        self._factory = producer_factory
        self._producer: KafkaProducer | None = None
        self._connect_lock = asyncio.Lock()
        self._last_failed_connect = float("-inf")
        self._last_error = "not connected yet"
        self._keeper: asyncio.Task | None = None

    async def start(self) -> None:
        """Connect in the background; the API serves (with 503s) until Kafka answers."""
        self._keeper = asyncio.create_task(self._keep_connected())

    async def stop(self) -> None:
        if self._keeper:
            self._keeper.cancel()
        if self._producer is not None:
            producer, self._producer = self._producer, None
            await asyncio.to_thread(_close, producer, self._ack_timeout_s)

    def readiness(self) -> tuple[bool, str]:
        """Ready when a producer exists and holds a live connection to a broker."""
        producer = self._producer
        if producer is None:
            return False, self._last_error
        connections = producer.metrics().get("producer-metrics", {}).get("connection-count", 0)
        if connections < 1:
            return False, "no connection to any Kafka broker"
        return True, "connected"

    async def publish(self, messages: Sequence[Message]) -> None:
        """Return once Kafka acknowledged every message; raise KafkaUnavailable otherwise."""
        producer = await self._connected_producer()
        acks = _Acks(asyncio.get_running_loop(), len(messages))
        started = time.perf_counter()
        try:
            for m in messages:
                producer.send(m.topic, value=m.value, key=m.key).add_callback(
                    acks.acked).add_errback(acks.failed)
        except KafkaError as exc:  # e.g. closed under us by a concurrent fatal error
            acks.future.cancel()
            self._retire(producer, exc)
            raise KafkaUnavailable(f"Kafka refused the records: {exc}") from exc
        try:
            await asyncio.wait_for(acks.future, self._ack_timeout_s + ACK_GRACE_S)
        except (TimeoutError, KafkaError) as exc:
            # Any failure retires the producer, a timeout too: after expiring records that
            # were in flight, kafka-python's idempotent producer can wedge for good.
            self._retire(producer, exc)
            why = str(exc) or f"no acknowledgement within {self._ack_timeout_s:g}s"
            raise KafkaUnavailable(f"Kafka did not acknowledge: {why}") from exc
        metrics.KAFKA_ACK_SECONDS.labels(messages[0].topic).observe(
            time.perf_counter() - started)

    async def _connected_producer(self) -> KafkaProducer:
        if self._producer is not None:
            return self._producer
        async with self._connect_lock:
            if self._producer is None:
                # Requests arriving while Kafka is down fail fast instead of each waiting
                # for a bootstrap timeout; the keeper keeps trying in the background.
                if time.monotonic() - self._last_failed_connect < RECONNECT_INTERVAL_S:
                    raise KafkaUnavailable(f"Kafka is unavailable: {self._last_error}")
                await self._connect()
        if self._producer is None:
            raise KafkaUnavailable(f"Kafka is unavailable: {self._last_error}")
        return self._producer

    async def _connect(self) -> None:
        try:
            self._producer = await asyncio.to_thread(self._create_producer)
            self._last_error = ""
            log.info("connected to Kafka at %s", self._config["bootstrap_servers"])
        except Exception as exc:  # any bootstrap failure: report, retry later
            self._last_failed_connect = time.monotonic()
            error = f"cannot connect to Kafka: {exc}"
            if error != self._last_error:  # once per outage, not once per attempt
                log.warning(error)
            self._last_error = error

    def _create_producer(self) -> KafkaProducer:
        producer = self._factory(**self._config)
        try:
            for topic in (USER_EVENTS_TOPIC, PURCHASES_TOPIC):
                if not producer.partitions_for(topic):  # fetch metadata now, not in send()
                    raise KafkaError(f"topic {topic} has no partitions")
        except Exception:
            _close(producer, 0)
            raise
        return producer

    async def _keep_connected(self) -> None:
        while True:
            if self._producer is None:
                async with self._connect_lock:
                    if self._producer is None:
                        await self._connect()
            await asyncio.sleep(RECONNECT_INTERVAL_S)

    def _retire(self, producer: KafkaProducer, error: BaseException) -> None:
        """Stop a producer that failed (the records it still holds fail too: their requests
        answer 503); the next request or the keeper makes a new one."""
        if self._producer is not producer:
            return
        self._producer = None
        self._last_error = f"producer failed: {error}"
        log.warning("retiring the Kafka producer: %s", error)
        threading.Thread(target=_close, args=(producer, 0), daemon=True).start()


def _close(producer: KafkaProducer, timeout_s: float) -> None:
    """Close within `timeout_s`; what is still unacknowledged then is aborted, never sent."""
    try:
        producer.close(timeout_s)
    except Exception as exc:
        log.warning("closing the Kafka producer: %s", exc)
        # kafka-python's close() raises on a flush timeout before it stops its I/O thread;
        # stop it directly, or a wedged producer would go on holding records and a thread.
        producer._sender.force_close()
