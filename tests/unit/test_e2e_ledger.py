"""The ledger as the generator's Sender feeds it: one entry per record, with the attempts
its request took and whether the API accepted it (a `send` function stands in for the API)."""

from __future__ import annotations

import asyncio

from apps.e2e.ledger import Ledger, Sent, event_key
from apps.generator.sender import Answer, Sender, Stats
from apps.generator.traffic import TrafficBuilder


def send(batch, answers: dict[str, list[int]]) -> Ledger:
    """Send a batch; each path answers its statuses in turn, then 202."""
    ledger = Ledger()
    turns = {path: iter(statuses) for path, statuses in answers.items()}

    async def send(method: str, path: str, body: bytes) -> Answer:
        return Answer(next(turns.get(path, iter(())), 202), "")

    async def main() -> None:
        await Sender(send, Stats(), asyncio.Event(), ledger.record).send_batch(batch)

    asyncio.run(main())
    return ledger


def test_every_record_is_in_the_ledger_once_with_one_attempt():
    batch = TrafficBuilder(7, users=50, products=20).batch(3)
    ledger = send(batch, {})
    assert ledger.events == {event_key(e): Sent(1, 1) for e in batch.events}
    assert ledger.purchases == {p.OrderId: Sent(1, 1) for p in batch.purchases}
    assert ledger.users == {e.UserId for e in batch.events}


def test_a_503_then_202_is_one_accepted_record_with_one_retry():
    batch = TrafficBuilder(7, users=50, products=20).batch(2)
    ledger = send(batch, {"/PurchasedItems": [503]})
    assert ledger.purchases == {p.OrderId: Sent(2, 1) for p in batch.purchases}
    assert all(s.retries == 1 for s in ledger.purchases.values())


def test_a_refused_record_is_kept_as_not_accepted():
    batch = TrafficBuilder(7, users=50, products=20).batch(1)
    ledger = send(batch, {"/SendEvent": [422] * 1000})
    assert ledger.events == {event_key(e): Sent(1, 0) for e in batch.events}
