"""The reconciliation's rows from a ledger and what the stores hold: exact rows for a clean
run, a missing event, an extra copy with and without a retry, a lake row read twice, and a
repeat-purchase table that differs from its recomputation."""

from __future__ import annotations

from datetime import UTC, datetime

from apps.contract.models import (
    PURCHASED_ITEMS,
    EventAttributes,
    EventName,
    PaymentType,
    Product,
    Purchase,
    UserEvent,
    kafka_value,
    order_total,
)
from apps.e2e.ledger import Ledger, event_key
from apps.e2e.reconcile import Comparison, Found, Row, reconcile, top_repeat

T0 = datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)


def event(user: str, n: int) -> UserEvent:
    return UserEvent(UserId=user, SessionId=f"s-{user}", EventName=EventName.PAGE_VISITED,
                     TimeStamp=T0.replace(second=n),
                     Attributes=EventAttributes(ProductId="p-1", Price=9.99, Discount=0.0))


def purchase(user: str, order: str) -> Purchase:
    items = [Product(ProductId="p-1", ItemCount=2, ItemPrice=9.99, ItemDiscount=0.0)]
    return Purchase(SessionId=f"s-{user}", TimeStamp=T0, UserId=user,
                    TotalPrice=float(order_total(items)), OrderId=order, Products=items,
                    PaymentType=PaymentType.CREDIT_CARD)


E1, E2, E3 = event("u1", 1), event("u1", 2), event("u2", 3)
P1, P2 = purchase("u1", "o1"), purchase("u2", "o2")


def ledger(event_attempts=(1, 1, 1), purchase_attempts=1) -> Ledger:
    book = Ledger()
    for e, attempts in zip((E1, E2, E3), event_attempts, strict=True):
        book.record("/SendEvent", kafka_value(e), attempts, True)
    book.record("/PurchasedItems", PURCHASED_ITEMS.dump_json([P1, P2]), purchase_attempts, True)
    return book


def ev(offset: int, e: UserEvent) -> tuple[str, tuple]:
    return f"UserEvents:0:{offset}", event_key(e)


def pu(offset: int, p: Purchase) -> tuple[str, str]:
    return f"PurchasedItem:0:{offset}", p.OrderId


def found(**changes) -> Found:
    clean = dict(
        kafka_events=[ev(10, E1), ev(11, E2), ev(12, E3)],
        stored_events=[ev(10, E1), ev(11, E2), ev(12, E3)],
        event_counts={("u1", "PageVisited"): 2, ("u2", "PageVisited"): 1},
        dead_letters=[],
        kafka_purchases=[pu(5, P1), pu(6, P2)],
        lake_purchases=[pu(5, P1), pu(6, P2)],
        quarantined=[],
        analysed_orders={"o1", "o2"},
        comparisons=[Comparison("repeat_purchases", [("u1", "p-1", 2)], [("u1", "p-1", 2)])],
    )
    return Found(**{**clean, **changes})


def mismatches(rows: list[Row]) -> dict[str, tuple]:
    return {r.check: (r.expected, r.found, r.differences) for r in rows if not r.ok}


def test_a_clean_run_gives_exactly_these_rows():
    rows = reconcile(ledger(), found())
    assert [(r.check, r.expected, r.found, r.ok) for r in rows] == [
        ("records sent == accepted by the API (202)", 5, 5, True),
        ("events accepted (202), found in user_events", 3, 3, True),
        ("user_events documents == UserEvents records (run's range and users)", 3, 3, True),
        ("sum of EventCount of the run's users == their documents", 3, 3, True),
        ("event copies beyond the accepted (each <= its retries)", "<= 0", 0, True),
        ("dead letters in the run's UserEvents range", 0, 0, True),
        ("purchases accepted (202), found in raw/", 2, 2, True),
        ("raw/ rows == PurchasedItem records (run's range and users)", 2, 2, True),
        ("distinct OrderIds under raw/ == purchases accepted", 2, 2, True),
        ("purchase copies beyond the accepted (each <= its retries)", "<= 0", 0, True),
        ("quarantine/ rows in the run's PurchasedItem range", 0, 0, True),
        ("accepted purchases in the files the analysis read", 2, 2, True),
        ("repeat_purchases", 1, 1, True),
    ]


def test_an_event_missing_from_mongo_is_named_and_the_counts_disagree():
    rows = reconcile(ledger(), found(stored_events=[ev(10, E1), ev(12, E3)]))
    assert mismatches(rows) == {
        "events accepted (202), found in user_events":
            (3, 2, (f"missing from user_events: {event_key(E2)}",)),
        "user_events documents == UserEvents records (run's range and users)":
            (3, 2, (f"only in Kafka: UserEvents:0:11 {event_key(E2)}",)),
        "sum of EventCount of the run's users == their documents":
            (2, 3, ("('u1', 'PageVisited'): 1 documents, EventCount 2",)),
    }


def test_a_copy_in_kafka_without_a_retry_is_a_mismatch():
    copy = ev(13, E2)
    rows = reconcile(ledger(), found(kafka_events=found().kafka_events + [copy],
                                     stored_events=found().stored_events + [copy],
                                     event_counts={("u1", "PageVisited"): 3,
                                                   ("u2", "PageVisited"): 1}))
    assert mismatches(rows) == {
        "event copies beyond the accepted (each <= its retries)":
            ("<= 0", 1, (f"1 copies beyond the accepted one, 0 retries: {event_key(E2)}",)),
    }


def test_a_copy_from_a_retried_request_is_counted_and_allowed():
    copy = ev(13, E2)
    rows = reconcile(ledger(event_attempts=(1, 2, 1)),
                     found(kafka_events=found().kafka_events + [copy],
                           stored_events=found().stored_events + [copy],
                           event_counts={("u1", "PageVisited"): 3, ("u2", "PageVisited"): 1}))
    assert mismatches(rows) == {}
    [copies] = [r for r in rows if r.check.startswith("event copies")]
    assert (copies.expected, copies.found) == ("<= 1", 1)


def test_a_retried_purchase_request_allows_a_copy_of_each_of_its_purchases():
    rows = reconcile(ledger(purchase_attempts=2),
                     found(kafka_purchases=[pu(5, P1), pu(6, P2), pu(7, P1)],
                           lake_purchases=[pu(5, P1), pu(6, P2), pu(7, P1)]))
    assert mismatches(rows) == {}
    [copies] = [r for r in rows if r.check.startswith("purchase copies")]
    assert (copies.expected, copies.found) == ("<= 2", 1)


def test_a_lake_row_read_twice_and_a_missing_one_are_named():
    rows = reconcile(ledger(), found(lake_purchases=[pu(5, P1), pu(5, P1)]))
    assert mismatches(rows) == {
        "purchases accepted (202), found in raw/": (2, 1, ("missing from raw/: o2",)),
        "raw/ rows == PurchasedItem records (run's range and users)":
            (2, 2, ("extra in the store: PurchasedItem:0:5 o1",
                    "only in Kafka: PurchasedItem:0:6 o2")),
        "distinct OrderIds under raw/ == purchases accepted":
            (2, 1, ("accepted, not under raw/: o2",)),
    }


def test_a_record_never_accepted_and_a_record_nobody_sent():
    book = ledger()
    stray = event("u9", 9)
    book.record("/SendEvent", kafka_value(stray), 4, False)
    rows = reconcile(book, found(kafka_events=found().kafka_events + [ev(20, stray),
                                                                      ev(21, event("u1", 30))]))
    bad = mismatches(rows)
    assert bad["records sent == accepted by the API (202)"] == (
        6, 5, (f"event not accepted after 4 attempts: {event_key(stray)}",))
    assert bad["event copies beyond the accepted (each <= its retries)"][2] == (
        f"in Kafka, never sent: {event_key(event('u1', 30))}",)


def test_dead_letters_and_quarantined_rows_in_the_range_are_mismatches():
    bad = mismatches(reconcile(ledger(), found(dead_letters=["UserEvents:1:7"],
                                               quarantined=["PurchasedItem:2:3"])))
    assert bad == {"dead letters in the run's UserEvents range": (0, 1, ("UserEvents:1:7",)),
                   "quarantine/ rows in the run's PurchasedItem range":
                       (0, 1, ("PurchasedItem:2:3",))}


def test_a_repeat_purchase_that_differs_from_the_recomputation():
    comparison = Comparison("repeat_purchases", [("u1", "p-1", 2), ("u2", "p-2", 3)],
                            [("u1", "p-1", 2), ("u2", "p-2", 2)])
    assert mismatches(reconcile(ledger(), found(comparisons=[comparison]))) == {
        "repeat_purchases": (2, 2, ("only recomputed: ('u2', 'p-2', 2)",
                                    "only written: ('u2', 'p-2', 3)")),
    }


def test_the_same_rows_in_another_order_is_a_mismatch_of_a_ranking():
    comparison = Comparison("top", [(2, "b"), (1, "a")], [(1, "a"), (2, "b")])
    assert mismatches(reconcile(ledger(), found(comparisons=[comparison]))) == {
        "top": (2, 2, ("same rows in another order",))}


def test_top_repeat_ranks_by_customers_then_orders_then_product():
    repeat = [{"product_id": p, "order_count": o, "total_units": u} for p, o, u in (
        ("b", 2, 2), ("b", 3, 5), ("a", 4, 4), ("c", 2, 9), ("c", 3, 1), ("d", 5, 5))]
    assert top_repeat(repeat) == [(1, "b", 2, 5, 7), (2, "c", 2, 5, 10), (3, "d", 1, 5, 5),
                                  (4, "a", 1, 4, 4)]
    assert top_repeat(repeat, limit=1) == [(1, "b", 2, 5, 7)]


def test_the_ledger_refuses_a_path_it_does_not_know():
    import pytest

    with pytest.raises(ValueError, match=r"^the ledger knows /SendEvent and /PurchasedItems, "
                                         r"not '/health'$"):
        Ledger().record("/health", b"{}", 1, True)
