"""The generator's world: a product catalogue with skewed popularity and a base of shoppers.

Everything is drawn from one seeded `random.Random` and one seeded Faker, so a seed fixes
the world. Popularity follows a Zipf law (a few best sellers, a long tail); shopper
activity follows a Pareto law (a few heavy buyers); payment types have unequal shares.
"""

from __future__ import annotations

import random
from bisect import bisect
from dataclasses import dataclass, field
from itertools import accumulate

from faker import Faker

from apps.contract.models import PaymentType

ZIPF_EXPONENT = 1.1
# Shares of the payment types across shoppers' preferences: cards dominate.
PAYMENT_SHARES: dict[PaymentType, float] = {
    PaymentType.CREDIT_CARD: 0.42,
    PaymentType.PAYPAL: 0.24,
    PaymentType.DEBIT_CARD: 0.14,
    PaymentType.CASH_ON_DELIVERY: 0.09,
    PaymentType.GIFT_CARD: 0.06,
    PaymentType.BANK_TRANSFER: 0.05,
}


def _cents(value: float) -> float:
    return round(value, 2)


@dataclass(frozen=True, slots=True)
class CatalogueProduct:
    product_id: str
    price: float  # unit price
    discount: float  # per-unit discount, at most the price


@dataclass(slots=True)
class Shopper:
    user_id: str
    preferred_payment: PaymentType
    bought: list[CatalogueProduct] = field(default_factory=list)  # grows as they buy


class WeightedChoice:
    """Draws items with fixed weights in O(log n), from the caller's Random."""

    def __init__(self, items: list, weights: list[float]):
        self.items = items
        self._cumulative = list(accumulate(weights))

    def pick(self, rng: random.Random):
        return self.items[bisect(self._cumulative, rng.random() * self._cumulative[-1])]


def _product(rng: random.Random, product_id: str) -> CatalogueProduct:
    price = _cents(min(max(rng.lognormvariate(3.3, 0.9), 0.99), 2500.0))
    discount = 0.0 if rng.random() < 0.7 else _cents(price * rng.choice((0.05, 0.1, 0.2, 0.3)))
    return CatalogueProduct(product_id, price, discount)


class Catalogue:
    def __init__(self, size: int, rng: random.Random, fake: Faker):
        ids = [fake.unique.ean13() for _ in range(size)]
        self.products = [_product(rng, product_id) for product_id in ids]
        by_popularity = rng.sample(self.products, size)  # popularity unrelated to id or price
        self._popular = WeightedChoice(
            by_popularity, [1 / rank**ZIPF_EXPONENT for rank in range(1, size + 1)])

    def pick(self, rng: random.Random) -> CatalogueProduct:
        return self._popular.pick(rng)


class UserBase:
    def __init__(self, size: int, rng: random.Random, fake: Faker):
        payments = WeightedChoice(list(PAYMENT_SHARES), list(PAYMENT_SHARES.values()))
        self.shoppers = [Shopper(fake.uuid4(), payments.pick(rng)) for _ in range(size)]
        self._active = WeightedChoice(
            self.shoppers, [min(rng.paretovariate(2.0), 20.0) for _ in range(size)])
        self.payments = payments

    def pick(self, rng: random.Random) -> Shopper:
        return self._active.pick(rng)
