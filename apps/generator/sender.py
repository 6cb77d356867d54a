"""Sends the generator's batches to the ingestion API, retrying until each record is accepted.

503s and connection errors are retried with exponential backoff; a record is only ever
counted as accepted (202) or failed (refused for good, or still unsent when the run
stops), never dropped silently.

The HTTP client is aiohttp: about 0.2 ms of CPU per request where httpx's pool took 2 to
2.6 ms (measured side by side against a no-op server), which decides how much traffic one
generator process can offer on a small machine.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass

import aiohttp

from apps.contract.models import (
    MAX_PURCHASES_PER_REQUEST,
    PURCHASED_ITEMS,
    Purchase,
    UserEvent,
    kafka_value,
)
from apps.generator.traffic import Batch

RETRYABLE_STATUS = {502, 503, 504}
FIRST_BACKOFF_S = 0.2
MAX_BACKOFF_S = 5.0
RETRY_GRACE_S = 30.0  # a bounded run keeps retrying this long after its last batch
SESSIONS_IN_FLIGHT = 16  # default sessions sent concurrently; a session's events stay in order
JSON = {"content-type": "application/json"}
# Told each request's end: (path, body, attempts made, accepted). A client that must account
# for every record (the end-to-end reconciliation) keeps its own ledger from it.
Outcome = Callable[[str, bytes, int, bool], None]
REQUEST_TIMEOUT_S = 30.0


@dataclass(frozen=True, slots=True)
class Answer:
    status: int
    text: str


class Unreachable(Exception):
    """The request got no HTTP answer: refused, reset, timed out. Retried like a 503."""


# How the Sender talks to the API: (method, path, body) -> its answer, or Unreachable.
Send = Callable[[str, str, bytes], Awaitable[Answer]]


@asynccontextmanager
async def api_client(api_url: str, connections: int) -> AsyncIterator[Send]:
    """A `Send` over one pool of keep-alive connections to the API."""
    timeout = aiohttp.ClientTimeout(total=REQUEST_TIMEOUT_S)
    connector = aiohttp.TCPConnector(limit=connections)
    async with aiohttp.ClientSession(api_url, timeout=timeout, connector=connector) as session:
        async def send(method: str, path: str, body: bytes) -> Answer:
            try:
                async with session.request(method, path, data=body, headers=JSON) as response:
                    return Answer(response.status, await response.text())
            except (aiohttp.ClientError, TimeoutError) as exc:
                raise Unreachable(f"{type(exc).__name__} {exc}") from exc

        yield send


@dataclass(slots=True)
class Stats:
    sent: int = 0  # records handed to the API for the first time
    accepted: int = 0
    retried: int = 0  # records sent again after a 503 or a connection error
    failed: int = 0  # refused for good, or unsent when the run stopped
    user_events: int = 0  # accepted, by kind
    purchases: int = 0
    last_error: str = ""


class Stopped(Exception):
    """The run is over (duration reached or a signal): pending records count as failed."""


class Sender:
    def __init__(self, send: Send, stats: Stats, stop: asyncio.Event,
                 on_outcome: Outcome | None = None, sessions: int = SESSIONS_IN_FLIGHT):
        self.send = send
        self.sessions = sessions
        self.stats = stats
        self.stop = stop
        self.on_outcome = on_outcome or (lambda *_: None)

    async def send_batch(self, batch: Batch) -> None:
        gate = asyncio.Semaphore(self.sessions)

        async def session(events: list[UserEvent]) -> None:
            async with gate:
                for i, event in enumerate(events):
                    try:
                        if await self._deliver("PUT", "/SendEvent", kafka_value(event), 1):
                            self.stats.user_events += 1
                    except Stopped:
                        self.stats.failed += len(events) - i - 1  # never sent
                        return

        chunks = [batch.purchases[i:i + MAX_PURCHASES_PER_REQUEST]
                  for i in range(0, len(batch.purchases), MAX_PURCHASES_PER_REQUEST)]
        await asyncio.gather(*(session(s) for s in batch.sessions),
                             *(self._send_purchases(c) for c in chunks))

    async def _send_purchases(self, purchases: list[Purchase]) -> None:
        body = PURCHASED_ITEMS.dump_json(purchases)
        try:
            if await self._deliver("POST", "/PurchasedItems", body, len(purchases)):
                self.stats.purchases += len(purchases)
        except Stopped:
            pass

    async def _deliver(self, method: str, path: str, body: bytes, records: int) -> bool:
        """Send until 202 (True); a refusal that retrying cannot fix is False, loudly.
        Raises Stopped, counting the records as failed, if the run stops meanwhile."""
        self.stats.sent += records
        backoff = FIRST_BACKOFF_S
        attempts = 0
        while True:
            attempts += 1
            try:
                answer = await self.send(method, path, body)
                if answer.status == 202:
                    self.stats.accepted += records
                    self.on_outcome(path, body, attempts, True)
                    return True
                problem = f"{method} {path}: {answer.status} {answer.text[:300]}"
                if answer.status not in RETRYABLE_STATUS:
                    self.stats.last_error = problem
                    self.stats.failed += records
                    self.on_outcome(path, body, attempts, False)
                    return False
            except Unreachable as exc:
                problem = f"{method} {path}: {exc}"
            self.stats.last_error = problem
            if self.stop.is_set():
                self.stats.failed += records
                self.on_outcome(path, body, attempts, False)
                raise Stopped(problem)
            self.stats.retried += records
            try:  # back off, but wake at once if the run is stopped meanwhile
                await asyncio.wait_for(self.stop.wait(), backoff)
            except TimeoutError:
                pass
            backoff = min(backoff * 2, MAX_BACKOFF_S)


async def run_batches(builder, rate: int, api_url: str, stats: Stats, stop: asyncio.Event,
                      duration: float | None, on_outcome: Outcome | None = None,
                      sessions: int = SESSIONS_IN_FLIGHT) -> None:
    """A fresh batch of `rate` purchases (and their sessions) at each whole second, with up
    to `sessions` sessions in flight (a client's request waits for Kafka's ack, so a high
    rate needs more of them).

    With a duration, that is one batch per started second; retries of the last batches
    get RETRY_GRACE_S more before what is still unsent is counted as failed.
    """
    batches = None if duration is None else max(1, math.ceil(duration))
    give_up = None
    if duration is not None:
        give_up = asyncio.get_running_loop().call_later(duration + RETRY_GRACE_S, stop.set)
    async with api_client(api_url, connections=sessions + 2) as send:
        sender = Sender(send, stats, stop, on_outcome, sessions)
        next_tick, sent_batches = time.monotonic(), 0
        while not stop.is_set() and (batches is None or sent_batches < batches):
            await sender.send_batch(builder.batch(rate))
            sent_batches += 1
            if batches is not None and sent_batches == batches:
                break
            # The next second; after a slow batch (an outage), at once, without a burst
            # to catch up on the seconds missed.
            next_tick = max(next_tick + 1.0, time.monotonic())
            try:
                await asyncio.wait_for(stop.wait(), next_tick - time.monotonic())
            except TimeoutError:
                pass
    if give_up:
        give_up.cancel()
