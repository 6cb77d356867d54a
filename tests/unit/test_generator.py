"""The generator's traffic: reproducible, always within the contract, and realistic enough
for the analyses to find best sellers and repeat buyers."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta
from itertools import count

import pytest

from apps.contract.models import EventName, Purchase, UserEvent, kafka_value
from apps.generator.sender import Answer, Sender, Stats, Unreachable
from apps.generator.traffic import TrafficBuilder

START = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)


def ticking_clock():
    """A clock that advances one second per reading, so order is checkable."""
    seconds = count()
    return lambda: START + timedelta(seconds=next(seconds))


def wire(batch) -> list[bytes]:
    return [kafka_value(r) for r in batch.events + batch.purchases]


@pytest.fixture(scope="module")
def ten_thousand_purchases():
    return TrafficBuilder(seed=11, users=2000, products=500, clock=ticking_clock()).batch(10_000)


def test_the_same_seed_gives_the_same_records():
    first = TrafficBuilder(seed=7, users=50, products=30, clock=ticking_clock())
    second = TrafficBuilder(seed=7, users=50, products=30, clock=ticking_clock())
    assert wire(first.batch(200)) == wire(second.batch(200))
    assert wire(first.batch(5)) == wire(second.batch(5))


def test_another_seed_gives_other_records():
    first = TrafficBuilder(seed=7, users=50, products=30, clock=ticking_clock())
    other = TrafficBuilder(seed=8, users=50, products=30, clock=ticking_clock())
    assert wire(first.batch(20)) != wire(other.batch(20))


def test_a_batch_holds_exactly_the_requested_purchases():
    batch = TrafficBuilder(seed=3, users=50, products=30).batch(37)
    assert len(batch.purchases) == 37
    assert len(batch.sessions) >= 37


def test_every_record_passes_the_contract_on_the_wire(ten_thousand_purchases):
    batch = ten_thousand_purchases
    for event in batch.events:
        assert UserEvent.model_validate_json(kafka_value(event)) == event
    for purchase in batch.purchases:
        assert Purchase.model_validate_json(kafka_value(purchase)) == purchase


def test_timestamps_are_the_clock_in_utc():
    clock_reading = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
    batch = TrafficBuilder(seed=5, users=20, products=10, clock=lambda: clock_reading).batch(10)
    stamps = [r.TimeStamp for r in batch.events + batch.purchases]
    assert max(stamps) == clock_reading
    assert all(s.utcoffset() == timedelta(0) for s in stamps)
    assert min(stamps) >= clock_reading - timedelta(minutes=1)


def test_sessions_view_then_buy_what_was_put_in_the_basket(ten_thousand_purchases):
    batch = ten_thousand_purchases
    by_session = {session[0].SessionId: session for session in batch.sessions}
    for purchase in batch.purchases:
        session = by_session[purchase.SessionId]
        assert {e.UserId for e in session} == {purchase.UserId}
        viewed = {e.Attributes.ProductId for e in session if e.EventName == EventName.PAGE_VISITED}
        basket = [e for e in session if e.EventName == EventName.ADDED_BASKET]
        assert [p.ProductId for p in purchase.Products] == [e.Attributes.ProductId for e in basket]
        assert viewed >= {p.ProductId for p in purchase.Products}
        assert [e.TimeStamp for e in session] == sorted(e.TimeStamp for e in session)
        assert session[-1].TimeStamp < purchase.TimeStamp


def test_there_are_repeat_buyers(ten_thousand_purchases):
    orders = defaultdict(set)
    for purchase in ten_thousand_purchases.purchases:
        for item in purchase.Products:
            orders[purchase.UserId, item.ProductId].add(purchase.OrderId)
    repeats = [pair for pair, order_ids in orders.items() if len(order_ids) >= 2]
    assert len(repeats) >= 500


def test_there_is_a_clear_best_seller_and_a_long_tail(ten_thousand_purchases):
    units = Counter()
    for purchase in ten_thousand_purchases.purchases:
        for item in purchase.Products:
            units[item.ProductId] += item.ItemCount
    ranking = [n for _, n in units.most_common()]
    assert ranking[0] >= 1.5 * ranking[1]
    assert sum(ranking[:10]) >= sum(ranking) / 3  # a few products make much of the sales
    assert len(ranking) >= 250  # and most of the catalogue sells a little


def test_payment_types_have_unequal_shares(ten_thousand_purchases):
    shares = Counter(p.PaymentType for p in ten_thousand_purchases.purchases).most_common()
    assert len(shares) == 6
    assert shares[0][1] >= 2 * shares[-1][1]
    assert len({n for _, n in shares}) == 6


def test_order_ids_are_unique(ten_thousand_purchases):
    assert len({p.OrderId for p in ten_thousand_purchases.purchases}) == 10_000


def most_requests_at_once(sessions: int) -> int:
    """Send a batch through the real Sender to a slow stand-in API; the peak of /SendEvent
    requests in flight."""
    in_flight = peak = 0

    async def send(method: str, path: str, body: bytes) -> Answer:
        nonlocal in_flight, peak
        if path == "/SendEvent":
            in_flight += 1
            peak = max(peak, in_flight)
            await asyncio.sleep(0.01)
            in_flight -= 1
        return Answer(202, "")

    async def main() -> None:
        await Sender(send, Stats(), asyncio.Event(), sessions=sessions).send_batch(
            TrafficBuilder(3, users=200, products=50).batch(40))

    asyncio.run(main())
    return peak


def test_sessions_bound_the_requests_in_flight():
    assert most_requests_at_once(1) == 1
    assert most_requests_at_once(8) == 8  # a batch of 40 purchases has more sessions than 8


def test_an_unreachable_api_is_retried_until_it_answers():
    """A refused connection is retried like a 503; the record is accepted once, not lost."""
    answers = iter([Unreachable("ClientConnectorError refused"), Answer(503, "busy"),
                    Answer(202, "")])
    stats = Stats()

    async def send(method: str, path: str, body: bytes) -> Answer:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    async def main() -> bool:
        return await Sender(send, stats, asyncio.Event())._deliver("PUT", "/SendEvent", b"{}", 1)

    assert asyncio.run(main()) is True
    assert (stats.sent, stats.accepted, stats.retried, stats.failed) == (1, 1, 2, 0)
    assert stats.last_error == "PUT /SendEvent: 503 busy"
