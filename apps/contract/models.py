"""The data contract: the two records that enter shopstream, with every rule they obey.

The API validates with these models, the generator builds with them, the DAG and the
Spark job parse with them, and `apps.contract.jsonschema` publishes them. Field names are
PascalCase because they are the wire format that outside clients already send.

The models are strict: parse wire data with `Model.model_validate_json(raw)` (JSON strings
become timestamps and enum members there); Python callers pass `datetime` and enum members.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator
from pydantic_core import InitErrorDetails, PydanticCustomError

USER_EVENTS_TOPIC = "UserEvents"
PURCHASES_TOPIC = "PurchasedItem"
TOPIC_PARTITIONS = 3
MAX_PURCHASES_PER_REQUEST = 1000
MAX_BODY_BYTES = 2 * 1024 * 1024

ID_MAX_LENGTH = 64
# Not a business rule: the largest count a 64-bit column (Spark's LongType) can hold.
MAX_ITEM_COUNT = 2**63 - 1
CENT = Decimal("0.01")


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
Money = Annotated[float, Field(ge=0, allow_inf_nan=False)]
UtcTimestamp = Annotated[datetime, Field(description="ISO 8601; without an offset it is UTC"),
                         AfterValidator(_as_utc)]


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


def _exact(value: float) -> Decimal:
    return Decimal(repr(value))


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
    Price: Money = Field(description="unit price")
    Discount: Money = Field(description="per-unit discount, at most the price")

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
    ItemPrice: Money = Field(description="unit price")
    ItemDiscount: Money = Field(description="per-unit discount, at most the price")

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
    TotalPrice: Money = Field(description="sum of ItemCount * (ItemPrice - ItemDiscount)")
    OrderId: Id
    Products: list[Product] = Field(min_length=1)
    PaymentType: PaymentType

    @model_validator(mode="after")
    def _total_matches_items(self) -> Purchase:
        expected = sum(
            (p.ItemCount * (_exact(p.ItemPrice) - _exact(p.ItemDiscount)) for p in self.Products),
            Decimal(0),
        )
        if abs(_exact(self.TotalPrice) - expected) >= CENT / 2:
            raise _field_error(
                "Purchase", "TotalPrice", "total_mismatch",
                f"TotalPrice must equal the sum of ItemCount * (ItemPrice - ItemDiscount), "
                f"{expected.quantize(CENT)}, to the cent", self.TotalPrice)
        return self


def topic_for(record: UserEvent | Purchase) -> str:
    return USER_EVENTS_TOPIC if isinstance(record, UserEvent) else PURCHASES_TOPIC


def kafka_key(record: UserEvent | Purchase) -> bytes:
    return record.UserId.encode()


def kafka_value(record: UserEvent | Purchase) -> bytes:
    """The record as validated (timestamps in UTC), as UTF-8 JSON: the Kafka message value."""
    return record.__pydantic_serializer__.to_json(record)
