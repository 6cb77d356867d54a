"""The ingestion endpoints: validate against the contract, hand to Kafka, answer once acked."""

from __future__ import annotations

from collections.abc import Sequence

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, TypeAdapter

from apps.api import metrics, openapi
from apps.api.body import check_content_type, read_body, validate
from apps.api.errors import NOT_ACKNOWLEDGED, kafka_unavailable
from apps.api.publisher import KafkaPublisher, KafkaUnavailable, Message
from apps.contract.models import (
    MAX_BODY_BYTES,
    MAX_PURCHASES_PER_REQUEST,
    PURCHASED_ITEMS,
    Purchase,
    UserEvent,
    kafka_key,
    kafka_value,
)

router = APIRouter(tags=["ingestion"])

USER_EVENT = TypeAdapter(UserEvent)


class Accepted(BaseModel):
    accepted: int


class Refusal(BaseModel):
    error: str
    detail: str | list[dict]


REFUSALS = {
    413: {"model": Refusal, "description": "The body is larger than 2 MiB"},
    415: {"model": Refusal, "description": "The body is not UTF-8 JSON"},
    422: {"model": Refusal, "description": "A record breaks the contract; each bad field is named"},
    503: {"model": Refusal, "description": f"{NOT_ACKNOWLEDGED}."},
}


async def _records(request: Request, adapter: TypeAdapter):
    check_content_type(request.headers.get("content-type"))
    return validate(adapter, await read_body(request, MAX_BODY_BYTES))


async def _publish(request: Request, topic: str,
                   records: Sequence[UserEvent | Purchase]) -> Response:
    # The publisher comes from the app state, not a Depends: on this hot path FastAPI's
    # dependency resolution measured about 50 µs of CPU a request.
    publisher: KafkaPublisher = request.app.state.publisher
    messages = [Message(topic, kafka_key(r), kafka_value(r)) for r in records]
    try:
        await publisher.publish(messages)
    except KafkaUnavailable as exc:
        raise kafka_unavailable(str(exc), len(messages)) from None
    metrics.child(metrics.REQUESTS, request.scope["path"], 202).inc()  # request.url parses
    metrics.child(metrics.RECORDS_ACCEPTED, topic).inc(len(messages))
    return Response(b'{"accepted":%d}' % len(messages), 202, media_type="application/json")


@router.put("/SendEvent", status_code=202, response_model=Accepted, responses=REFUSALS,
            openapi_extra=openapi.json_body(UserEvent), summary="Ingest one user event")
async def send_event(request: Request) -> Response:
    """One UserEvent to the `UserEvents` topic (key: UserId), answered once Kafka acked it."""
    topic = request.app.state.settings.kafka_user_events_topic
    return await _publish(request, topic, [await _records(request, USER_EVENT)])


@router.post("/PurchasedItems", status_code=202, response_model=Accepted, responses=REFUSALS,
             openapi_extra=openapi.json_body(Purchase, array=(1, MAX_PURCHASES_PER_REQUEST)),
             summary="Ingest 1 to 1000 purchases")
async def purchased_items(request: Request) -> Response:
    """An array of Purchases to the `PurchasedItem` topic (key: UserId), all or nothing:
    202 only once Kafka acknowledged every one of them."""
    topic = request.app.state.settings.kafka_purchases_topic
    return await _publish(request, topic, await _records(request, PURCHASED_ITEMS))
