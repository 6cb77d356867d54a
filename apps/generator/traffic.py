"""Builds the generator's traffic: shopping sessions made of contract records.

A session is one shopper looking at a few products (popular ones, or one they bought
before), maybe reading reviews and adding some to the basket, and often buying the
basket. Pure code: a seed and a clock fix every record.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from faker import Faker

from apps.contract.models import (
    EventAttributes,
    EventName,
    Product,
    Purchase,
    UserEvent,
    order_total,
)
from apps.generator.catalogue import Catalogue, CatalogueProduct, Shopper, UserBase

Clock = Callable[[], datetime]
EVENT_SPACING = timedelta(milliseconds=250)  # between a session's steps; the last is "now"
REBUY_CHANCE = 0.35  # a returning shopper's session starts from a product they bought
REVIEW_CHANCE = 0.4
BASKET_CHANCE = 0.45
REBUY_BASKET_CHANCE = 0.8  # they liked it: they mostly put it in the basket again
CHECKOUT_CHANCE = 0.75
PREFERRED_PAYMENT_CHANCE = 0.85


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class Batch:
    """One second of traffic: sessions' events in order, and the purchases they ended in."""

    sessions: list[list[UserEvent]] = field(default_factory=list)
    purchases: list[Purchase] = field(default_factory=list)

    @property
    def events(self) -> list[UserEvent]:
        return [event for session in self.sessions for event in session]


class TrafficBuilder:
    def __init__(self, seed: int, users: int, products: int, clock: Clock = utc_now):
        self.rng = random.Random(seed)
        self.fake = Faker()
        self.fake.seed_instance(seed)
        self.catalogue = Catalogue(products, self.rng, self.fake)
        self.users = UserBase(users, self.rng, self.fake)
        self.clock = clock

    def batch(self, purchases: int) -> Batch:
        """Sessions until `purchases` of them ended in a purchase."""
        batch = Batch()
        while len(batch.purchases) < purchases:
            events, purchase = self.session()
            batch.sessions.append(events)
            if purchase:
                batch.purchases.append(purchase)
        return batch

    def session(self) -> tuple[list[UserEvent], Purchase | None]:
        shopper = self.users.pick(self.rng)
        session_id = self.fake.uuid4()
        steps: list[tuple[EventName, CatalogueProduct]] = []
        basket: list[CatalogueProduct] = []
        for product in self._products_looked_at(shopper):
            steps.append((EventName.PAGE_VISITED, product))
            if self.rng.random() < REVIEW_CHANCE:
                steps.append((EventName.CHECKED_PRODUCT_REVIEWS, product))
            rebuy = product in shopper.bought
            if self.rng.random() < (REBUY_BASKET_CHANCE if rebuy else BASKET_CHANCE):
                steps.append((EventName.ADDED_BASKET, product))
                basket.append(product)
        buys = bool(basket) and self.rng.random() < CHECKOUT_CHANCE
        times = self._timestamps(len(steps) + buys)
        events = [
            UserEvent(UserId=shopper.user_id, SessionId=session_id, EventName=name,
                      TimeStamp=at, Attributes=EventAttributes(
                          ProductId=p.product_id, Price=p.price, Discount=p.discount))
            for (name, p), at in zip(steps, times, strict=False)
        ]
        purchase = self._purchase(shopper, session_id, basket, times[-1]) if buys else None
        return events, purchase

    def _products_looked_at(self, shopper: Shopper) -> list[CatalogueProduct]:
        wanted = self.rng.choice((1, 1, 2, 2, 3, 4))
        looked: list[CatalogueProduct] = []
        if shopper.bought and self.rng.random() < REBUY_CHANCE:
            looked.append(self.rng.choice(shopper.bought))
        for _ in range(wanted * 4):  # a few draws may repeat a product already looked at
            if len(looked) >= wanted:
                break
            product = self.catalogue.pick(self.rng)
            if product not in looked:
                looked.append(product)
        return looked

    def _timestamps(self, steps: int) -> list[datetime]:
        now = self.clock()
        return [now - EVENT_SPACING * (steps - 1 - i) for i in range(steps)]

    def _purchase(self, shopper: Shopper, session_id: str, basket: list[CatalogueProduct],
                  at: datetime) -> Purchase:
        items = [Product(ProductId=p.product_id, ItemCount=self._item_count(),
                         ItemPrice=p.price, ItemDiscount=p.discount) for p in basket]
        payment = (shopper.preferred_payment if self.rng.random() < PREFERRED_PAYMENT_CHANCE
                   else self.users.payments.pick(self.rng))
        shopper.bought.extend(p for p in basket if p not in shopper.bought)
        return Purchase(SessionId=session_id, TimeStamp=at, UserId=shopper.user_id,
                        TotalPrice=float(order_total(items)), OrderId=self.fake.uuid4(),
                        Products=items, PaymentType=payment)

    def _item_count(self) -> int:
        return self.rng.choices((1, 2, 3, 4), weights=(70, 20, 7, 3))[0]
