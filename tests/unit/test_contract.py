"""The data contract as the API enforces it: a table of bodies, each with its exact answer.

Kafka is replaced by an in-process fake here only because these tests are about
validation; tests/integration/test_api_kafka.py runs the same API against a real broker.
"""

from __future__ import annotations

import gc
import json
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from apps.api.application import create_app
from apps.api.publisher import KafkaUnavailable, Message
from apps.contract.jsonschema import SCHEMA_DIR, render, schemas
from apps.contract.models import MAX_BODY_BYTES, Purchase, UserEvent, kafka_value

JSON = "application/json"


class FakePublisher:
    """Records what the API would hand to Kafka; `unavailable` makes it refuse."""

    def __init__(self) -> None:
        self.published: list[Message] = []
        self.unavailable = False

    async def start(self) -> None: ...

    async def stop(self) -> None: ...

    def readiness(self) -> tuple[bool, str]:
        return (False, "test: Kafka down") if self.unavailable else (True, "connected")

    async def publish(self, messages: list[Message]) -> None:
        if self.unavailable:
            raise KafkaUnavailable("test: Kafka down")
        self.published.extend(messages)


@pytest.fixture
def publisher() -> FakePublisher:
    return FakePublisher()


@pytest.fixture
def client(settings, publisher) -> Iterator[TestClient]:
    with TestClient(create_app(settings, publisher)) as client:
        yield client


def event(**changes) -> dict:
    record = {"UserId": "u-1", "SessionId": "s-1", "EventName": "AddedBasket",
              "TimeStamp": "2025-06-01T12:00:00Z",
              "Attributes": {"ProductId": "p-1", "Price": 19.99, "Discount": 2.0}}
    return {**record, **changes}


def attributes(**changes) -> dict:
    return event(Attributes={**event()["Attributes"], **changes})


def product(**changes) -> dict:
    return {"ProductId": "p-1", "ItemCount": 2, "ItemPrice": 19.99, "ItemDiscount": 2.0,
            **changes}


def purchase(**changes) -> dict:
    record = {"SessionId": "s-1", "TimeStamp": "2025-06-01T12:03:10Z", "UserId": "u-1",
              "TotalPrice": 35.98, "OrderId": "o-1", "Products": [product()],
              "PaymentType": "CreditCard"}
    return {**record, **changes}


def items(**product_changes) -> dict:
    return purchase(Products=[product(**product_changes)])


def body(value) -> bytes:
    return json.dumps(value, allow_nan=True).encode()


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


SEND, BUY = "/SendEvent", "/PurchasedItems"

INVALID = [  # path, body, [(field, error type)]
    (SEND, event(UserId=""), [("body.UserId", "string_too_short")]),
    (SEND, event(UserId="u" * 65), [("body.UserId", "string_too_long")]),
    (SEND, event(SessionId="s\n1"), [("body.SessionId", "value_error")]),
    (SEND, event(UserId="u\x00"), [("body.UserId", "value_error")]),
    (SEND, event(UserId=42), [("body.UserId", "string_type")]),
    (SEND, event(EventName="Clicked"), [("body.EventName", "enum")]),
    (SEND, event(TimeStamp="yesterday"), [("body.TimeStamp", "datetime_parsing")]),
    (SEND, event(TimeStamp="2025-06-01"), [("body.TimeStamp", "datetime_parsing")]),
    (SEND, event(TimeStamp=1748779200), [("body.TimeStamp", "datetime_type")]),
    (SEND, event(TimeStamp="1748779200"), [("body.TimeStamp", "datetime_parsing")]),
    (SEND, event(TimeStamp="0"), [("body.TimeStamp", "datetime_parsing")]),
    (SEND, attributes(Price=-0.01), [("body.Attributes.Price", "greater_than_equal")]),
    (SEND, attributes(Price=float("nan")), [("body.Attributes.Price", "finite_number")]),
    (SEND, attributes(Price=float("inf")), [("body.Attributes.Price", "finite_number")]),
    (SEND, attributes(Discount=float("-inf")), [("body.Attributes.Discount", "finite_number")]),
    (SEND, attributes(Price="19.99"), [("body.Attributes.Price", "float_type")]),
    (SEND, attributes(Price=True), [("body.Attributes.Price", "float_type")]),
    (SEND, attributes(Discount=20.0), [("body.Attributes.Discount", "discount_above_price")]),
    (SEND, attributes(ProductId=None), [("body.Attributes.ProductId", "string_type")]),
    (SEND, {k: v for k, v in event().items() if k != "Attributes"},
     [("body.Attributes", "missing")]),
    (SEND, event(Colour="red"), [("body.Colour", "extra_forbidden")]),
    (SEND, attributes(Colour="red"), [("body.Attributes.Colour", "extra_forbidden")]),
    (SEND, event(Attributes=[]), [("body.Attributes", "model_type")]),
    (SEND, [event()], [("body", "model_type")]),
    (SEND, {}, [(f"body.{f}", "missing") for f in event()]),
    (BUY, [], [("body", "too_short")]),
    (BUY, purchase(), [("body", "list_type")]),
    (BUY, [purchase(Products=[])], [("body[0].Products", "too_short")]),
    (BUY, [items(ItemCount=0)], [("body[0].Products[0].ItemCount", "greater_than_equal")]),
    (BUY, [items(ItemCount=2.0)], [("body[0].Products[0].ItemCount", "int_type")]),
    (BUY, [items(ItemCount=10**30)], [("body[0].Products[0].ItemCount", "less_than_equal")]),
    (BUY, [items(ItemPrice=float("nan"))], [("body[0].Products[0].ItemPrice", "finite_number")]),
    (BUY, [items(ItemDiscount=20.0)],
     [("body[0].Products[0].ItemDiscount", "discount_above_price")]),
    (BUY, [purchase(TotalPrice=35.97)], [("body[0].TotalPrice", "total_mismatch")]),
    (BUY, [purchase(TotalPrice=35.984)], [("body[0].TotalPrice", "value_error")]),
    (SEND, attributes(Price=19.999), [("body.Attributes.Price", "value_error")]),
    (SEND, attributes(Price=10_000_000.0), [("body.Attributes.Price", "less_than")]),
    (BUY, [items(ItemPrice=10_000_000.0)], [("body[0].Products[0].ItemPrice", "less_than")]),
    (BUY, [items(ItemDiscount=0.001)], [("body[0].Products[0].ItemDiscount", "value_error")]),
    (BUY, [items(ItemCount=10_001)], [("body[0].Products[0].ItemCount", "less_than_equal")]),
    (BUY, [purchase(Products=[product(ProductId=f"p-{i}") for i in range(101)],
                    TotalPrice=3633.98)], [("body[0].Products", "too_long")]),
    (BUY, [purchase(TotalPrice=1e400)], [("body[0].TotalPrice", "finite_number")]),
    (BUY, [purchase(PaymentType="Bitcoin")], [("body[0].PaymentType", "enum")]),
    (BUY, [purchase(), purchase(OrderId="")], [("body[1].OrderId", "string_too_short")]),
    (BUY, [{k: v for k, v in purchase().items() if k != "OrderId"}],
     [("body[0].OrderId", "missing")]),
    (BUY, [purchase(Coupon="X")], [("body[0].Coupon", "extra_forbidden")]),
    (BUY, [purchase()] * 1001, [("body", "too_long")]),
]


@pytest.mark.parametrize(("path", "payload", "errors"), INVALID,
                         ids=[f"{p}-{i}" for i, (p, *_) in enumerate(INVALID)])
def test_a_contract_violation_is_422_naming_each_field(client, publisher, path, payload,
                                                        errors):
    method = "PUT" if path == SEND else "POST"
    response = client.request(method, path, content=body(payload),
                              headers={"content-type": JSON})
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "invalid_record"
    assert [(e["field"], e["type"]) for e in response.json()["detail"]] == errors
    assert publisher.published == []


def test_deep_nesting_inside_a_field_is_422_for_that_field(client):
    raw = json.dumps(event()).replace('"p-1"', nested(100)).encode()
    response = client.put(SEND, content=raw, headers={"content-type": JSON})
    assert response.status_code == 422
    assert [e["field"] for e in response.json()["detail"]] == ["body.Attributes.ProductId"]


NOT_JSON = [  # content type, raw body
    ("text/plain", body(event())),
    (None, body(event())),
    ("application/json; charset=latin-1", body(event())),
    (JSON, b""),
    (JSON, b"UserId=u-1"),
    (JSON, body(event())[:-1]),
    (JSON, body(event()).replace(b"u-1", b"u-\xff\xfe")),
    (JSON, body(event()).replace(b'"p-1"', nested(100_000).encode())),
    (JSON, body(event()).replace(b"19.99", b"1" * 5000)),
]


@pytest.mark.parametrize(("content_type", "raw"), NOT_JSON)
def test_a_body_that_is_not_utf8_json_is_415(client, publisher, content_type, raw):
    headers = {"content-type": content_type} if content_type else {}
    response = client.put(SEND, content=raw, headers=headers)
    assert response.status_code == 415, response.text
    assert response.json()["error"] == "not_json"
    assert publisher.published == []


def test_a_body_over_2_mib_is_413_by_its_declared_length(client, publisher):
    response = client.post(BUY, content=b" " * (MAX_BODY_BYTES + 1),
                           headers={"content-type": JSON})
    assert response.status_code == 413
    assert response.json() == {"error": "body_too_large",
                               "detail": f"the body is larger than {MAX_BODY_BYTES} bytes"}
    assert publisher.published == []


def test_a_body_over_2_mib_is_413_when_streamed_without_a_length(client, publisher):
    def chunks():
        for _ in range(3):
            yield b" " * (MAX_BODY_BYTES // 2)

    response = client.post(BUY, content=chunks(), headers={"content-type": JSON})
    assert response.status_code == 413
    assert publisher.published == []


def test_a_valid_event_is_published_as_validated_and_accepted(client, publisher):
    sent = event(TimeStamp="2025-06-01T14:00:00+02:00", UserId="ユーザー 7")
    response = client.put(SEND, content=body(sent), headers={"content-type": JSON})
    assert (response.status_code, response.json()) == (202, {"accepted": 1})
    expected = {**sent, "TimeStamp": "2025-06-01T12:00:00Z"}
    [message] = publisher.published
    assert message == Message("UserEvents", "ユーザー 7".encode(),
                              json.dumps(expected, separators=(",", ":"),
                                         ensure_ascii=False).encode())


def test_a_timestamp_without_offset_is_utc(client, publisher):
    response = client.put(SEND, content=body(event(TimeStamp="2025-06-01T12:00:00.5")),
                          headers={"content-type": "application/json; charset=utf-8"})
    assert response.status_code == 202
    assert json.loads(publisher.published[0].value)["TimeStamp"] == "2025-06-01T12:00:00.500000Z"


VALID_PURCHASES = [
    [purchase()],
    # the largest order: 100 products of 10,000 units at the highest unit price
    [purchase(Products=[product(ProductId=f"p-{i}", ItemCount=10_000, ItemPrice=9_999_999.99,
                                ItemDiscount=0.0) for i in range(100)],
              TotalPrice=9_999_999_990_000.0)],
    [items(ItemPrice=0.0, ItemDiscount=0.0) | {"TotalPrice": 0.0}],
    [items(ItemDiscount=19.99) | {"TotalPrice": 0.0}],
    [purchase(Products=[product(), product(ProductId="p-2", ItemCount=1, ItemPrice=0.1,
                                           ItemDiscount=0.0)], TotalPrice=36.08)],
]


@pytest.mark.parametrize("payload", VALID_PURCHASES)
def test_valid_purchases_are_accepted(client, publisher, payload):
    response = client.post(BUY, content=body(payload), headers={"content-type": JSON})
    assert (response.status_code, response.json()) == (202, {"accepted": len(payload)})
    assert [m.value for m in publisher.published] == [
        kafka_value(Purchase.model_validate_json(json.dumps(p))) for p in payload]


def test_a_thousand_purchases_are_accepted_in_order_keyed_by_user(client, publisher):
    payload = [purchase(OrderId=f"o-{i}", UserId=f"u-{i % 7}") for i in range(1000)]
    response = client.post(BUY, content=body(payload), headers={"content-type": JSON})
    assert (response.status_code, response.json()) == (202, {"accepted": 1000})
    assert [(m.topic, m.key, json.loads(m.value)["OrderId"]) for m in publisher.published] == [
        ("PurchasedItem", f"u-{i % 7}".encode(), f"o-{i}") for i in range(1000)]


def test_topics_named_in_the_settings_receive_the_records(settings, publisher):
    own = settings.model_copy(update={"kafka_user_events_topic": "bench-UserEvents-1",
                                      "kafka_purchases_topic": "bench-PurchasedItem-1"})
    with TestClient(create_app(own, publisher)) as client:
        client.put(SEND, content=body(event()), headers={"content-type": JSON})
        client.post(BUY, content=body([purchase()]), headers={"content-type": JSON})
    assert [m.topic for m in publisher.published] == ["bench-UserEvents-1",
                                                      "bench-PurchasedItem-1"]


def test_what_start_up_loaded_is_kept_out_of_the_collectors_full_passes(settings, publisher):
    with TestClient(create_app(settings, publisher)):
        assert gc.get_freeze_count() > 0
    assert gc.get_freeze_count() == 0  # unfrozen at shutdown: collectable again


def test_the_contracts_topics_are_the_default(settings):
    assert (settings.kafka_user_events_topic, settings.kafka_purchases_topic) == (
        "UserEvents", "PurchasedItem")


def test_kafka_unavailable_is_503_with_retry_after(client, publisher):
    publisher.unavailable = True
    response = client.put(SEND, content=body(event()), headers={"content-type": JSON})
    assert response.status_code == 503
    assert response.headers["retry-after"] == "2"
    assert response.json() == {"error": "kafka_unavailable",
                               "detail": "Kafka did not acknowledge every record, so none is "
                                         "claimed; some may already be in Kafka, and a retry "
                                         "(after Retry-After) can store them twice: test: "
                                         "Kafka down"}


def test_health_reports_kafka_readiness(client, publisher):
    assert client.get("/health").status_code == 200
    publisher.unavailable = True
    response = client.get("/health")
    assert response.status_code == 503
    assert response.json()["kafka"]["ready"] is False


def metric(client, line: str) -> float:
    """The value of one sample of `/metrics` (0 when absent: a counter not yet used)."""
    for sample in client.get("/metrics").text.splitlines():
        if sample.startswith(line + " "):
            return float(sample.rsplit(" ", 1)[1])
    return 0.0


def test_metrics_count_requests_and_rejected_records(client):
    # The counters are process-wide: compare before and after, whatever ran first.
    samples = ('shopstream_api_requests_total{endpoint="/PurchasedItems",status="422"}',
               'shopstream_api_requests_total{endpoint="/PurchasedItems",status="202"}',
               'shopstream_api_records_rejected_total{reason="invalid_record"}',
               'shopstream_api_records_accepted_total{topic="PurchasedItem"}')
    before = [metric(client, s) for s in samples]
    client.post(BUY, content=body([purchase(), purchase(OrderId="")]),
                headers={"content-type": JSON})
    client.post(BUY, content=body([purchase(), purchase(OrderId="o-2")]),
                headers={"content-type": JSON})
    after = [metric(client, s) for s in samples]
    # all or nothing: one bad purchase refuses both records of its request
    assert [a - b for a, b in zip(after, before)] == [1, 1, 2, 2]


def test_the_openapi_document_shows_the_contract_with_examples(client):
    document = client.get("/openapi.json").json()
    body_doc = document["paths"]["/PurchasedItems"]["post"]["requestBody"]["content"][JSON]
    assert body_doc["schema"]["items"] == {"$ref": "#/components/schemas/Purchase"}
    assert body_doc["example"] == [Purchase.model_config["json_schema_extra"]["examples"][0]]
    assert document["components"]["schemas"]["PaymentType"]["enum"] == [
        "CreditCard", "DebitCard", "Paypal", "CashOnDelivery", "GiftCard", "BankTransfer"]
    assert client.get("/docs").status_code == 200


def test_the_examples_are_valid_records():
    for model in (UserEvent, Purchase):
        [example] = model.model_config["json_schema_extra"]["examples"]
        assert model.model_validate_json(json.dumps(example)).model_dump(mode="json") == example


def test_the_published_json_schemas_are_what_the_models_produce():
    assert sorted(p.name for p in SCHEMA_DIR.glob("*.schema.json")) == sorted(schemas())
    for name, schema in schemas().items():
        assert (SCHEMA_DIR / name).read_text() == render(schema), (
            f"docs/contract/{name} is stale: run `uv run python -m apps.contract.jsonschema`")
