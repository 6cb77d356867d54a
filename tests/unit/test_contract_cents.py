"""The contract counts money in integer cents: for every amount it allows, the same as
the exact decimal the JSON number was written as, and None when that has more decimals."""

import random
from decimal import Decimal

import pytest

from apps.contract.models import MAX_TOTAL, cents


def exact_cents(value: float) -> int | None:
    """The reference: the decimal a float's shortest repr writes, times 100, if whole."""
    hundredfold = Decimal(repr(value)) * 100
    return int(hundredfold) if hundredfold == hundredfold.to_integral_value() else None


def samples() -> list[float]:
    rng = random.Random(7)
    values = [0.0, -0.0, 0.01, 0.1 + 0.2, 0.29, 1.005, 2.5, 19.99, 35.98, 1e-05, 0.001,
              9_999_999.99, 123_456_789_012.34, 9_999_999_999_999.99, 4503599627370.49,
              MAX_TOTAL - 0.01, 5e-324]
    for _ in range(20_000):
        places = rng.randint(0, 6)
        top = MAX_TOTAL * rng.choice([1e-12, 1e-9, 1e-6, 1e-3, 1])
        values.append(round(rng.uniform(0, top), places))
        values.append(rng.randint(0, 10 ** 9) / 10 ** places)
        values.append(rng.random() * 10 ** rng.randint(-8, 12))
    return [v for v in values if v < MAX_TOTAL]


@pytest.mark.parametrize("chunk", range(4))
def test_cents_equal_those_of_the_exact_decimal(chunk):
    values = samples()[chunk::4]
    wrong = [(v, cents(v), exact_cents(v)) for v in values if cents(v) != exact_cents(v)]
    assert wrong == []


def test_the_samples_hold_both_whole_cents_and_finer_amounts():
    found = [exact_cents(v) is None for v in samples()]
    assert found.count(True) > 10_000 and found.count(False) > 10_000
