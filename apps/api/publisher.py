"""Publishes a request's records to Kafka and waits for every acknowledgement.

The producer is librdkafka (confluent-kafka): `produce()` hands a record to C code in a
few microseconds, where kafka-python spends most of the API's CPU per record in Python.
Its delivery reports are served on the event loop by non-blocking polls (a timer while
requests wait), so an acknowledgement resolves its request without a thread hand-off;
the event loop never waits on the producer. The same timer expires requests whose reports
are overdue: a request costs no timer of its own.

The producer is created lazily and re-created after a failure, so the API starts while
Kafka is down and recovers by itself when it returns. A record's delivery timeout is the
API's ack timeout. A producer that failed a request is retired before that request is
answered: its queues are purged (queued records are never sent) and it is closed. Purging
cannot recall a produce request already written to the broker: such a record may be in
Kafka although its request was answered 503 (the client's retry then makes a duplicate);
nothing is sent after the answer.
"""

from __future__ import annotations

import asyncio
import json
import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from confluent_kafka import KafkaError, KafkaException, Producer

from apps.api import metrics

log = logging.getLogger(__name__)

RECONNECT_INTERVAL_S = 1.0  # how often a missing producer is re-created, at most
METADATA_MAX_AGE_MS = 5000  # the producer sees new leaders within this
LINGER_MS = 5  # a few ms of batching: many concurrent requests share one produce request
MAX_REQUEST_BYTES = 2 * 1024 * 1024  # a whole POST /PurchasedItems fits one request
ACK_GRACE_S = 1.0  # beyond the delivery timeout, for the last report to be served
POLL_INTERVAL_S = 0.001  # how soon a waiting request sees its acknowledgement, at most
STATS_INTERVAL_MS = 1000  # how often the producer reports its brokers' state (readiness)


class KafkaUnavailable(Exception):
    """Kafka could not take or acknowledge the records: the client should retry later."""


@dataclass(frozen=True, slots=True)
class Message:
    topic: str
    key: bytes
    value: bytes


def producer_config(servers: list[str], ack_timeout_s: float) -> dict:
    delivery_ms = int(ack_timeout_s * 1000)
    linger_ms = min(LINGER_MS, delivery_ms // 2)
    return {
        "bootstrap.servers": ",".join(servers),
        "acks": "all",
        "enable.idempotence": True,
        # The Java client's partitioner, as kafka-python's: murmur2 of the key, so a user's
        # records land on the partition they always did (librdkafka's default is crc32).
        "partitioner": "murmur2_random",
        "linger.ms": linger_ms,
        "message.timeout.ms": delivery_ms,
        "request.timeout.ms": max(1, delivery_ms - linger_ms),
        "message.max.bytes": MAX_REQUEST_BYTES,
        "socket.connection.setup.timeout.ms": max(1000, min(delivery_ms, 5000)),
        "reconnect.backoff.max.ms": 1000,
        "topic.metadata.refresh.interval.ms": METADATA_MAX_AGE_MS,
    }


class DeliveryFailed(Exception):
    """Kafka refused or timed out one of the request's records."""


class _Acks:
    """Counts one request's delivery reports; `done` is called once."""

    __slots__ = ("_left", "_done", "future", "error")

    def __init__(self, future: asyncio.Future, expected: int, done: Callable[[_Acks], None]):
        self.future = future
        self.error: KafkaError | None = None
        self._left = expected
        self._done = done

    def delivered(self, error: KafkaError | None, _message) -> None:
        if self._left <= 0:
            return  # already reported as failed
        if error is not None:
            self.error, self._left = error, 0
            self._done(self)
            return
        self._left -= 1
        if not self._left:
            self._done(self)

    def expire(self) -> None:
        """The deadline passed without every report (called on the event loop)."""
        if not self.future.done():
            self.future.set_exception(TimeoutError())

    def resolve(self) -> None:
        if self.future.done():
            return
        if self.error is None:
            self.future.set_result(None)
        else:
            self.future.set_exception(DeliveryFailed(self.error.str()))


class _PolledProducer:
    """A librdkafka producer whose reports are served on the event loop: while requests
    wait, a timer polls it every POLL_INTERVAL_S without blocking, so an acknowledgement
    resolves its request with no thread hand-off; the keeper polls it when idle. The timer
    also fails a request whose reports are not all in `wait_s` after it began."""

    def __init__(self, config: dict, loop: asyncio.AbstractEventLoop, loop_thread: int,
                 factory: Callable[[dict], Producer], wait_s: float):
        self.loop = loop
        self._loop_thread = loop_thread
        self._wait_s = wait_s
        # (deadline, acks) in the order requests began: with one wait for all, that is
        # also the order of their deadlines, so the overdue ones are always at the front.
        self._deadlines: deque[tuple[float, _Acks]] = deque()
        self.brokers_up = True  # created only after a metadata answer (see connect)
        self.fatal: str | None = None
        self._last_error = ""
        self._waiting = 0  # requests whose reports are not all in
        self._ticking = False
        self._closed = False
        self._aborted: asyncio.Future | None = None
        self.producer = factory({**config, "statistics.interval.ms": STATS_INTERVAL_MS,
                                 "stats_cb": self._stats, "error_cb": self._error})
        self.produce = self.producer.produce

    def acks(self, expected: int) -> _Acks:
        self._waiting += 1
        if not self._ticking:
            self._ticking = True
            self.loop.call_later(POLL_INTERVAL_S, self._tick)
        acks = _Acks(self.loop.create_future(), expected, self._complete)
        self._deadlines.append((self.loop.time() + self._wait_s, acks))
        return acks

    def _complete(self, acks: _Acks) -> None:
        self._waiting -= 1
        if threading.get_ident() == self._loop_thread:
            acks.resolve()
        else:  # served by close() in a worker thread
            self.loop.call_soon_threadsafe(acks.resolve)

    def _tick(self) -> None:
        self.poll()
        self._expire(self.loop.time())
        if self._waiting and not self._closed:
            self.loop.call_later(POLL_INTERVAL_S, self._tick)
        else:
            self._ticking = False

    def _expire(self, now: float) -> None:
        """Forget answered requests at the front; fail those past their deadline."""
        deadlines = self._deadlines
        while deadlines:
            deadline, acks = deadlines[0]
            if not acks.future.done():
                if deadline > now:
                    return
                acks.expire()
            deadlines.popleft()

    def poll(self) -> None:
        """Serve what is ready (reports, stats, errors); never waits."""
        if not self._closed:
            self.producer.poll(0)

    def _stats(self, raw: str) -> None:
        brokers = json.loads(raw).get("brokers", {}).values()
        self.brokers_up = any(b.get("state") == "UP" for b in brokers)

    def _error(self, error: KafkaError) -> None:
        if error.code() == KafkaError._ALL_BROKERS_DOWN:
            self.brokers_up = False
        if error.fatal():
            self.fatal = error.str()
        if error.str() != self._last_error:  # once per outage, not once per reconnect
            log.warning("Kafka producer: %s", error.str())
            self._last_error = error.str()

    def purge(self) -> None:
        """Drop every queued and in-flight record (blocking): none is sent after this.
        A produce request already written to the broker cannot be recalled."""
        self.producer.purge(in_queue=True, in_flight=True, blocking=True)

    async def abort(self) -> None:
        """Purge now and fail the purged records' requests (every caller waits for the same
        purge), then close in the background."""
        if self._aborted is None:
            self._aborted = asyncio.ensure_future(self._abort())
        await asyncio.shield(self._aborted)

    async def _abort(self) -> None:
        await asyncio.to_thread(self.purge)
        self.poll()  # the purged records' reports: their requests answer 503 now
        self._expire(float("inf"))  # any request still waiting: nothing more will come
        self._closed = True
        threading.Thread(target=self.producer.close, name="kafka-close", daemon=True).start()

    async def drain(self, timeout_s: float) -> None:
        """Deliver what it holds for up to `timeout_s` (server shutdown), then abort."""
        deadline = time.monotonic() + timeout_s
        while len(self.producer) and time.monotonic() < deadline:
            self.poll()
            await asyncio.sleep(POLL_INTERVAL_S)
        await self.abort()


class KafkaPublisher:
    def __init__(self, servers: list[str], ack_timeout_s: float, topics: Sequence[str],
                 producer_factory: Callable[[dict], Producer] = Producer,
                 overrides: dict | None = None):
        self._config = {**producer_config(servers, ack_timeout_s), **(overrides or {})}
        self._ack_timeout_s = ack_timeout_s
        self._topics = tuple(topics)
        self._factory = producer_factory
        self._producer: _PolledProducer | None = None
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
            await producer.drain(self._ack_timeout_s)

    def readiness(self) -> tuple[bool, str]:
        """Ready when a producer exists and is connected to a broker."""
        producer = self._producer
        if producer is None:
            return False, self._last_error
        if not producer.brokers_up:
            return False, "no connection to any Kafka broker"
        return True, "connected"

    async def publish(self, messages: Sequence[Message]) -> None:
        """Return once Kafka acknowledged every message; raise KafkaUnavailable otherwise."""
        producer = self._producer or await self._connected_producer()
        producer.poll()  # under load, earlier requests' reports are served here, not by a timer
        acks = producer.acks(len(messages))
        started = time.perf_counter()
        try:
            produce, delivered = producer.produce, acks.delivered
            for m in messages:
                produce(m.topic, m.value, m.key, on_delivery=delivered)
        except (KafkaException, BufferError) as exc:  # e.g. its queue is full
            acks.future.cancel()  # its purged records' reports have no one to tell
            await self._retire(producer, exc)
            raise KafkaUnavailable(f"Kafka refused the records: {exc}") from exc
        try:
            await acks.future
        except (TimeoutError, DeliveryFailed) as exc:
            await self._retire(producer, exc)
            why = str(exc) or f"no acknowledgement within {self._ack_timeout_s:g}s"
            raise KafkaUnavailable(f"Kafka did not acknowledge: {why}") from exc
        metrics.child(metrics.KAFKA_ACK_SECONDS, messages[0].topic).observe(
            time.perf_counter() - started)

    async def _connected_producer(self) -> _PolledProducer:
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
            self._producer = await asyncio.to_thread(
                self._create_producer, asyncio.get_running_loop(), threading.get_ident())
            self._last_error = ""
            log.info("connected to Kafka at %s", self._config["bootstrap.servers"])
        except Exception as exc:  # any bootstrap failure: report, retry later
            self._last_failed_connect = time.monotonic()
            error = f"cannot connect to Kafka: {exc}"
            if error != self._last_error:  # once per outage, not once per attempt
                log.warning(error)
            self._last_error = error

    def _create_producer(self, loop: asyncio.AbstractEventLoop,
                         loop_thread: int) -> _PolledProducer:
        # librdkafka reports every record within the delivery timeout; the wait beyond it
        # is for a producer that stopped reporting.
        producer = _PolledProducer(self._config, loop, loop_thread, self._factory,
                                   self._ack_timeout_s + ACK_GRACE_S)
        try:
            # Fetch metadata now: a request never waits for a bootstrap that cannot succeed.
            timeout_s = min(self._ack_timeout_s, 5.0)
            topics = producer.producer.list_topics(timeout=timeout_s).topics
            for topic in self._topics:
                if topic not in topics or topics[topic].error or not topics[topic].partitions:
                    raise KafkaUnavailable(f"topic {topic} has no partitions")
        except Exception:
            producer.producer.close()
            raise
        return producer

    async def _keep_connected(self) -> None:
        while True:
            producer = self._producer
            if producer is not None:
                producer.poll()  # readiness and errors, also while no request waits
                if producer.fatal:
                    await self._retire(producer, KafkaUnavailable(producer.fatal))
            if self._producer is None:
                async with self._connect_lock:
                    if self._producer is None:
                        await self._connect()
            await asyncio.sleep(RECONNECT_INTERVAL_S)

    async def _retire(self, producer: _PolledProducer, error: BaseException) -> None:
        """Purge and close a producer that failed, before the failed request is answered:
        the records it still holds fail too (their requests answer 503) and are never
        sent. The next request or the keeper makes a new producer."""
        if self._producer is producer:
            self._producer = None
            self._last_error = f"producer failed: {error}"
            log.warning("retiring the Kafka producer: %s", error)
        await producer.abort()
