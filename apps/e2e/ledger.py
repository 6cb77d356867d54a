"""The client's ledger: every record sent through the API, how many times its request was
sent, and whether the API accepted it (202). Pure: fed by the generator's Sender."""

from __future__ import annotations

from dataclasses import dataclass, field

from apps.contract.models import PURCHASED_ITEMS, UserEvent
from apps.user_events.documents import to_millisecond

SEND_EVENT, PURCHASED_ITEMS_PATH = "/SendEvent", "/PurchasedItems"

# An event as the stores keep it: MongoDB holds timestamps to the millisecond.
EventKey = tuple[str, str, str, str, str, float, float]


def event_key(event: UserEvent) -> EventKey:
    """What identifies an event by its fields (a session's events differ in name or time)."""
    a = event.Attributes
    return (event.UserId, event.SessionId, event.EventName.value,
            to_millisecond(event.TimeStamp).isoformat(), a.ProductId, a.Price, a.Discount)


@dataclass(slots=True)
class Sent:
    """One record's history: requests made for it (attempts) and 202s received."""

    attempts: int = 0
    accepted: int = 0

    @property
    def retries(self) -> int:
        """Attempts that got no 202: each may still have reached Kafka (a lost answer)."""
        return self.attempts - self.accepted


@dataclass
class Ledger:
    events: dict[EventKey, Sent] = field(default_factory=dict)
    purchases: dict[str, Sent] = field(default_factory=dict)  # by OrderId
    users: set[str] = field(default_factory=set)

    def record(self, path: str, body: bytes, attempts: int, accepted: bool) -> None:
        """The Sender's outcome callback: one request's end."""
        if path == SEND_EVENT:
            event = UserEvent.model_validate_json(body)
            keys, users, book = [event_key(event)], [event.UserId], self.events
        elif path == PURCHASED_ITEMS_PATH:
            purchases = PURCHASED_ITEMS.validate_json(body)
            keys, users, book = [p.OrderId for p in purchases], [p.UserId for p in purchases], \
                self.purchases
        else:
            raise ValueError(f"the ledger knows /SendEvent and /PurchasedItems, not {path!r}")
        self.users.update(users)
        for key in keys:
            sent = book.setdefault(key, Sent())
            sent.attempts += attempts
            sent.accepted += accepted

    def accepted(self, book: dict) -> set:
        return {key for key, sent in book.items() if sent.accepted}
