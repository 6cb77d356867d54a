"""The data contract: the two records that enter shopstream, with every rule they obey.

The API validates with these models, the generator builds with them, the DAG and the
Spark job parse with them, and `apps.contract.jsonschema` publishes them. Field names are
PascalCase because they are the wire format that outside clients already send.

The models are strict: parse wire data with `Model.model_validate_json(raw)` (JSON strings
become timestamps and enum members there); Python callers pass `datetime` and enum members.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    TypeAdapter,
    ValidationError,
    model_validator,
)
from pydantic_core import InitErrorDetails, PydanticCustomError

USER_EVENTS_TOPIC = "UserEvents"
PURCHASES_TOPIC = "PurchasedItem"
TOPIC_PARTITIONS = 3
MAX_PURCHASES_PER_REQUEST = 1000
MAX_BODY_BYTES = 2 * 1024 * 1024

ID_MAX_LENGTH = 64
MAX_ITEM_COUNT = 10_000
MAX_PRODUCTS = 100
# Unit amounts (Price, Discount, ItemPrice, ItemDiscount) stay below this, so that every
# order total, at most MAX_PRODUCTS * MAX_ITEM_COUNT units, fits numeric(16, 2).
MAX_UNIT_AMOUNT = 10_000_000
MAX_TOTAL = MAX_PRODUCTS * MAX_ITEM_COUNT * MAX_UNIT_AMOUNT


@dataclass(frozen=True)
class Stored:
    """How a money field is kept downstream (lake, PostgreSQL): decimal(precision, scale)."""

    precision: int = 16
    scale: int = 2


MONEY_COLUMN = Stored()


def _printable(value: str) -> str:
    if not value.isprintable():
        raise ValueError("must contain only printable characters")
    return value


def _as_utc(value: datetime) -> datetime:
    """A timestamp without an offset is taken as UTC; one with an offset is converted."""
    if value.tzinfo is None:
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


Id = Annotated[str, Field(min_length=1, max_length=ID_MAX_LENGTH,
                          description="1 to 64 printable characters"), AfterValidator(_printable)]


CENTS_PER_UNIT = 10 ** MONEY_COLUMN.scale


def cents(value: float) -> int | None:
    """An amount in whole cents, or None when it has more decimals than cents.

    Exact for every amount below MAX_TOTAL (under 2**50 cents): a JSON number of n cents
    parses to the float nearest n / 100, which `n / 100` computes too, and `value * 100`
    is within a fraction of a cent of n, so `round()` recovers it. Integers, not Decimals:
    the whole-cents rule and the order total cost a purchase 2.1 µs instead of 4.9."""
    n = round(value * CENTS_PER_UNIT)
    return n if n / CENTS_PER_UNIT == value else None


def _whole_cents(value: float) -> float:
    if cents(value) is None:
        raise ValueError(f"must have at most {MONEY_COLUMN.scale} decimals")
    return value


# Money travels as a JSON number, exact to the cent; downstream it is a decimal column.
_CENTS_SCHEMA = {"multipleOf": 1 / CENTS_PER_UNIT}  # published; checked exactly by _whole_cents
UnitAmount = Annotated[float, Field(ge=0, lt=MAX_UNIT_AMOUNT, allow_inf_nan=False,
                                    json_schema_extra=_CENTS_SCHEMA),
                       AfterValidator(_whole_cents), MONEY_COLUMN]
TotalAmount = Annotated[float, Field(ge=0, lt=MAX_TOTAL, allow_inf_nan=False,
                                     json_schema_extra=_CENTS_SCHEMA),
                        AfterValidator(_whole_cents), MONEY_COLUMN]
# pydantic reads a string of digits ("0", "1748779200") as Unix seconds, which is not
# ISO 8601: the string's shape is checked first. A before-validator hands pydantic a Python
# str, which strict mode refuses for a datetime, so the field itself is lax and this
# function is what keeps it strict (a datetime, or an ISO 8601 string, nothing else).
_ISO_DATE_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}")


def _iso_8601(value: object) -> object:
    if isinstance(value, str):
        if not _ISO_DATE_TIME.match(value):
            raise PydanticCustomError("datetime_parsing",
                                      "Input should be an ISO 8601 date and time")
    elif not isinstance(value, datetime):
        raise PydanticCustomError("datetime_type", "Input should be a valid datetime")
    return value


UtcTimestamp = Annotated[datetime, Field(description="ISO 8601; without an offset it is UTC",
                                         strict=False),
                         BeforeValidator(_iso_8601), AfterValidator(_as_utc)]


class EventName(StrEnum):
    """What a user did on a product page."""

    PAGE_VISITED = "PageVisited"
    ADDED_BASKET = "AddedBasket"
    CHECKED_PRODUCT_REVIEWS = "CheckedProductReviews"


class PaymentType(StrEnum):
    """How an order was paid: a closed set, anything else is rejected."""

    CREDIT_CARD = "CreditCard"
    DEBIT_CARD = "DebitCard"
    PAYPAL = "Paypal"
    CASH_ON_DELIVERY = "CashOnDelivery"
    GIFT_CARD = "GiftCard"
    BANK_TRANSFER = "BankTransfer"


class Record(BaseModel):
    # strict: "12" is not a number and 2.0 is not a count; JSON still parses timestamps
    # and enum values from their strings.
    model_config = ConfigDict(extra="forbid", strict=True, frozen=True,
                              field_title_generator=lambda name, _: name)


def _field_error(model: str, field: str, kind: str, message: str, value: object) -> ValidationError:
    """A cross-field rule's error, located at the field it blames (so the API can name it)."""
    return ValidationError.from_exception_data(model, [InitErrorDetails(
        type=PydanticCustomError(kind, message), loc=(field,), input=value)])


def _discount_within_price(record: Record, price: str, discount: str) -> Record:
    """Discounts are per unit: one larger than the unit price is refused, at the discount."""
    if getattr(record, discount) > getattr(record, price):
        raise _field_error(type(record).__name__, discount, "discount_above_price",
                           f"{discount} must not exceed {price}", getattr(record, discount))
    return record


class EventAttributes(Record):
    ProductId: Id
    Price: UnitAmount = Field(description="unit price")
    Discount: UnitAmount = Field(description="per-unit discount, at most the price")

    @model_validator(mode="after")
    def _discount_within_price(self) -> EventAttributes:
        return _discount_within_price(self, "Price", "Discount")


class UserEvent(Record):
    """One interaction of a user with a product (`PUT /SendEvent`)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "UserId": "u-1042", "SessionId": "s-9f3a", "EventName": "AddedBasket",
        "TimeStamp": "2025-06-01T12:00:00Z",
        "Attributes": {"ProductId": "p-007", "Price": 19.99, "Discount": 2.0},
    }]})

    UserId: Id
    SessionId: Id
    EventName: EventName
    TimeStamp: UtcTimestamp
    Attributes: EventAttributes


class Product(Record):
    ProductId: Id
    ItemCount: int = Field(ge=1, le=MAX_ITEM_COUNT)
    ItemPrice: UnitAmount = Field(description="unit price")
    ItemDiscount: UnitAmount = Field(description="per-unit discount, at most the price")

    @model_validator(mode="after")
    def _discount_within_price(self) -> Product:
        return _discount_within_price(self, "ItemPrice", "ItemDiscount")


class Purchase(Record):
    """One order (`POST /PurchasedItems` takes an array of 1 to 1000 of them)."""

    model_config = ConfigDict(json_schema_extra={"examples": [{
        "SessionId": "s-9f3a", "TimeStamp": "2025-06-01T12:03:10Z", "UserId": "u-1042",
        "TotalPrice": 35.98, "OrderId": "o-51c2",
        "Products": [{"ProductId": "p-007", "ItemCount": 2, "ItemPrice": 19.99,
                      "ItemDiscount": 2.0}],
        "PaymentType": "CreditCard",
    }]})

    SessionId: Id
    TimeStamp: UtcTimestamp
    UserId: Id
    TotalPrice: TotalAmount = Field(description="sum of ItemCount * (ItemPrice - ItemDiscount)")
    OrderId: Id
    Products: list[Product] = Field(min_length=1, max_length=MAX_PRODUCTS)
    PaymentType: PaymentType

    @model_validator(mode="after")
    def _total_matches_items(self) -> Purchase:
        if cents(self.TotalPrice) != total_cents(self.Products):
            raise _field_error(
                "Purchase", "TotalPrice", "total_mismatch",
                f"TotalPrice must equal the sum of ItemCount * (ItemPrice - ItemDiscount), "
                f"{order_total(self.Products)}, to the cent", self.TotalPrice)
        return self


def total_cents(products: list[Product]) -> int:
    """Sum of ItemCount * (ItemPrice - ItemDiscount) in cents: exact, as every amount of a
    valid product is whole cents."""
    return sum(p.ItemCount * (cents(p.ItemPrice) - cents(p.ItemDiscount)) for p in products)


def order_total(products: list[Product]) -> Decimal:
    """The order's total as a decimal of two places, e.g. Decimal("35.98")."""
    return Decimal(total_cents(products)).scaleb(-MONEY_COLUMN.scale)


# The body of `POST /PurchasedItems`, and how the API reads it and clients write it.
PurchasedItemsBody = Annotated[
    list[Purchase], Field(min_length=1, max_length=MAX_PURCHASES_PER_REQUEST)
]
PURCHASED_ITEMS = TypeAdapter(PurchasedItemsBody)


def topic_for(record: UserEvent | Purchase) -> str:
    return USER_EVENTS_TOPIC if isinstance(record, UserEvent) else PURCHASES_TOPIC


def kafka_key(record: UserEvent | Purchase) -> bytes:
    return record.UserId.encode()


def kafka_value(record: UserEvent | Purchase) -> bytes:
    """The record as validated (timestamps in UTC), as UTF-8 JSON: the Kafka message value."""
    return record.__pydantic_serializer__.to_json(record)
