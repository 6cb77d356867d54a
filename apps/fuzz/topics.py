"""What reached a fuzz run's topics, checked against the contract (pure functions)."""

from __future__ import annotations

from collections.abc import Iterable

from pydantic import BaseModel, ValidationError

from apps.contract.models import Purchase, UserEvent


def contract_breaches(model: type[BaseModel], messages: Iterable[tuple[bytes | None, bytes]]
                      ) -> list[str]:
    """Each (key, value) whose value is not a valid `model`, or whose key is not its UserId,
    described in one line; [] when every message keeps the contract."""
    breaches = []
    for key, value in messages:
        try:
            record = model.model_validate_json(value)
        except ValidationError as exc:
            breaches.append(f"{model.__name__} {value[:200]!r}: {exc.errors()[0]['msg']}")
            continue
        if key != record.UserId.encode():
            breaches.append(f"{model.__name__} key {key!r} is not its UserId {record.UserId!r}")
    return breaches


MODELS = {"KAFKA_USER_EVENTS_TOPIC": UserEvent, "KAFKA_PURCHASES_TOPIC": Purchase}
