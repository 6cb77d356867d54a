"""The reconciliation: what the client's ledger says against what each store holds, as the
table's rows. Pure: the stores' contents come in as plain values (found.py reads them).

Records are told apart two ways. By their fields, against the ledger: an event by
`ledger.event_key`, a purchase by its OrderId. By their Kafka coordinates
(`topic:partition:offset`) between the stores: a `user_events` document's `_id` and a
lake row's lineage columns name the Kafka record they came from.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Hashable, Iterable
from dataclasses import dataclass, field

from apps.e2e.ledger import Ledger, Sent

SHOWN = 10  # differing records printed per row; the count says how many in all

Located = tuple[str, Hashable]  # (Kafka coordinates, the record's key)


@dataclass(frozen=True)
class Row:
    check: str
    expected: object
    found: object
    ok: bool
    differences: tuple[str, ...] = ()


@dataclass(frozen=True)
class Comparison:
    """A result table as the pipeline wrote it against the same one recomputed."""

    what: str
    written: list[tuple]
    recomputed: list[tuple]


@dataclass(frozen=True)
class Found:
    kafka_events: list[Located]      # UserEvents records of the run's range and users
    stored_events: list[Located]     # user_events documents of the run's users
    event_counts: dict[tuple[str, str], int]  # user_event_counts of the run's users
    dead_letters: list[str]          # dead letters in the run's UserEvents range
    kafka_purchases: list[Located]   # PurchasedItem records of the run's range and users
    lake_purchases: list[Located]    # raw/ rows of the run's users, by their lineage
    quarantined: list[str]           # quarantine/ rows in the run's PurchasedItem range
    analysed_orders: set[str] = field(default_factory=set)  # run's orders the analysis read
    comparisons: list[Comparison] = field(default_factory=list)


def _shown(items: Iterable[str]) -> tuple[str, ...]:
    items = list(items)
    more = len(items) - SHOWN
    return tuple(items[:SHOWN]) + ((f"... and {more} more",) if more > 0 else ())


def present(accepted: set, found: list[Located], what: str, where: str) -> Row:
    """Every accepted record is in the store (matched by its key)."""
    keys = {key for _, key in found}
    missing = sorted((k for k in accepted if k not in keys), key=repr)
    return Row(f"{what} accepted (202), found in {where}", len(accepted),
               len(accepted) - len(missing), not missing,
               _shown(f"missing from {where}: {k}" for k in missing))


def same_records(source: list[Located], copy: list[Located], what: str) -> Row:
    """The copy holds each source record exactly once: same coordinates, same record."""
    want, have = Counter(source), Counter(copy)
    differences = [f"only in Kafka: {at} {key}" for (at, key) in want - have] + \
                  [f"extra in the store: {at} {key}" for (at, key) in have - want]
    return Row(what, len(source), len(copy), not differences, _shown(sorted(differences)))


def copies(book: dict[Hashable, Sent], kafka: list[Located], what: str) -> Row:
    """Copies in Kafka beyond what was accepted: each record's at most its retries (attempts
    without a 202, whose answer may have been lost after Kafka took the record)."""
    in_kafka = Counter(key for _, key in kafka)
    differences = []
    extra = allowed = 0
    for key, sent in book.items():
        beyond = in_kafka.get(key, 0) - sent.accepted
        extra += max(beyond, 0)
        allowed += sent.retries
        if beyond > sent.retries:
            differences.append(f"{beyond} copies beyond the accepted one, "
                               f"{sent.retries} retries: {key}")
        elif beyond < 0:
            differences.append(f"accepted {sent.accepted}, in Kafka {in_kafka.get(key, 0)}: {key}")
    unsent = sorted((k for k in in_kafka if k not in book), key=repr)
    differences += [f"in Kafka, never sent: {key}" for key in unsent]
    return Row(f"{what} copies beyond the accepted (each <= its retries)",
               f"<= {allowed}", extra, not differences, _shown(differences))


def counted(stored: list[Located], counts: dict[tuple[str, str], int]) -> Row:
    """user_event_counts equals a recount of the run's documents, pair by pair."""
    recount = Counter((key[0], key[2]) for _, key in stored)  # (UserId, EventName)
    differences = [f"{pair}: {recount.get(pair, 0)} documents, EventCount {counts.get(pair, 0)}"
                   for pair in sorted(set(recount) | set(counts))
                   if recount.get(pair, 0) != counts.get(pair, 0)]
    return Row("sum of EventCount of the run's users == their documents", sum(recount.values()),
               sum(counts.values()), not differences, _shown(differences))


def distinct_orders(accepted: set[str], in_lake: set[str]) -> Row:
    differences = [f"accepted, not under raw/: {o}" for o in sorted(accepted - in_lake)] + \
                  [f"under raw/, never accepted: {o}" for o in sorted(in_lake - accepted)]
    return Row("distinct OrderIds under raw/ == purchases accepted", len(accepted), len(in_lake),
               not differences, _shown(differences))


def top_repeat(repeat_purchases: list[dict], limit: int = 10) -> list[tuple]:
    """sql/top_repeat.sql's answer computed again in Python from repeat_purchases rows:
    products by customers who bought them in 2+ orders, then those orders, then id."""
    by_product: dict[str, list[int]] = {}
    for row in repeat_purchases:
        figures = by_product.setdefault(row["product_id"], [0, 0, 0])
        figures[0] += 1
        figures[1] += row["order_count"]
        figures[2] += row["total_units"]
    ranked = sorted(by_product.items(), key=lambda item: (-item[1][0], -item[1][1], item[0]))
    return [(rank, product, *figures)
            for rank, (product, figures) in enumerate(ranked[:limit], start=1)]


def nothing(found: list[str], what: str) -> Row:
    return Row(what, 0, len(found), not found, _shown(sorted(found)))


def compare(c: Comparison) -> Row:
    written, recomputed = Counter(c.written), Counter(c.recomputed)
    differences = [f"only recomputed: {r}" for r in recomputed - written] + \
                  [f"only written: {r}" for r in written - recomputed]
    if not differences and c.written != c.recomputed:
        differences = ["same rows in another order"]
    return Row(c.what, len(c.recomputed), len(c.written), not differences,
               _shown(sorted(differences)))


def reconcile(ledger: Ledger, found: Found) -> list[Row]:
    """The table's rows, in the order the data flows."""
    records = {**{("event", k): s for k, s in ledger.events.items()},
               **{("purchase", k): s for k, s in ledger.purchases.items()}}
    refused = sorted(f"{kind} not accepted after {s.attempts} attempts: {key}"
                     for (kind, key), s in records.items() if not s.accepted)
    events, purchases = ledger.accepted(ledger.events), ledger.accepted(ledger.purchases)
    rows = [
        Row("records sent == accepted by the API (202)", len(records),
            len(records) - len(refused), not refused, _shown(refused)),
        present(events, found.stored_events, "events", "user_events"),
        same_records(found.kafka_events, found.stored_events,
                     "user_events documents == UserEvents records (run's range and users)"),
        counted(found.stored_events, found.event_counts),
        copies(ledger.events, found.kafka_events, "event"),
        nothing(found.dead_letters, "dead letters in the run's UserEvents range"),
        present(purchases, found.lake_purchases, "purchases", "raw/"),
        same_records(found.kafka_purchases, found.lake_purchases,
                     "raw/ rows == PurchasedItem records (run's range and users)"),
        distinct_orders(purchases, {key for _, key in found.lake_purchases}),
        copies(ledger.purchases, found.kafka_purchases, "purchase"),
        nothing(found.quarantined, "quarantine/ rows in the run's PurchasedItem range"),
    ]
    if found.comparisons:
        missing = sorted(purchases - found.analysed_orders)
        rows.append(Row("accepted purchases in the files the analysis read", len(purchases),
                        len(purchases) - len(missing), not missing,
                        _shown(f"not read: {m}" for m in missing)))
        rows += [compare(c) for c in found.comparisons]
    return rows
