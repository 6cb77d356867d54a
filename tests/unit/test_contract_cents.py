"""The contract's whole-cents rule reads a float's decimals off its text: the same count
as the exact decimal it was written as, for every kind of float repr."""

import random
from decimal import Decimal

import pytest

from apps.contract.models import decimals


def exponent_decimals(value: float) -> int:
    return max(0, -Decimal(repr(value)).as_tuple().exponent)


def samples() -> list[float]:
    rng = random.Random(7)
    values = [0.0, 1.0, 2.5, 19.99, 0.1 + 0.2, 1e-05, 0.0001, 0.001, 1e15, 1e16, 9_999_999.99,
              123456789012345.67, 1.5e16, 5e-324, 1.7976931348623157e308, -0.0, -12.345]
    for _ in range(20_000):
        places = rng.randint(0, 6)
        values.append(round(rng.uniform(0, 10 ** rng.randint(0, 17)), places))
        values.append(rng.randint(0, 10 ** 9) / 10 ** places)
        values.append(rng.random() * 10 ** rng.randint(-8, 20))
    return values


@pytest.mark.parametrize("chunk", range(4))
def test_decimals_equal_those_of_the_exact_decimal(chunk):
    values = samples()[chunk::4]
    wrong = [(v, decimals(v), exponent_decimals(v)) for v in values
             if decimals(v) != exponent_decimals(v)]
    assert wrong == []
