"""What the stores hold for one run, read as outside clients read them: Kafka over the run's
offset range, MongoDB, the lake's Delta tables read with the `deltalake` library, the
analysis' tables in PostgreSQL.

A run's records are told apart from everyone else's by their users: a fresh seed makes
fresh UserIds, and every Kafka record is keyed by its UserId.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
from pydantic import ValidationError

from apps.analysis import reference, store
from apps.contract.models import PURCHASES_TOPIC, USER_EVENTS_TOPIC, Purchase, UserEvent
from apps.e2e.ledger import Ledger, event_key
from apps.e2e.reconcile import Comparison, Found, Located, top_repeat
from apps.lake import tables
from apps.lake.tables import QUARANTINE_TABLE, RAW_TABLE
from apps.mongo import USER_EVENT_COUNTS, USER_EVENTS, USER_EVENTS_DEAD_LETTER
from apps.settings import Settings
from apps.user_events import kafka_io, mongo_io
from apps.user_events.counts import Span
from apps.user_events.documents import Coordinates

Offsets = dict[str, dict[int, int]]  # topic -> partition -> offset
TOPICS = (USER_EVENTS_TOPIC, PURCHASES_TOPIC)
IN_CHUNK = 500  # users per `$in` query


def end_offsets(settings: Settings) -> Offsets:
    with kafka_io.consumer(settings, None) as consumer:
        return {topic: kafka_io.end_offsets(consumer, topic) for topic in TOPICS}


def at(topic: str, partition: int, offset: int) -> str:
    return Coordinates(topic, partition, offset).document_id


def in_range(start: Offsets, end: Offsets, topic: str, partition: int, offset: int) -> bool:
    return start[topic].get(partition, 0) <= offset < end[topic].get(partition, 0)


def kafka_records(settings: Settings, topic: str, start: Offsets, end: Offsets,
                  users: set[str], key: Callable[[bytes], Hashable]) -> list[Located]:
    """Records of [start, end) keyed by one of `users`: (coordinates, key of its value)."""
    ranges = {p: Span(start[topic].get(p, 0), e) for p, e in end[topic].items()}
    located = []
    with kafka_io.consumer(settings, None) as consumer:
        for batch in kafka_io.read(consumer, topic, ranges):
            for r in batch:
                if r.key is not None and r.key.decode("utf-8", "replace") in users:
                    located.append((at(topic, r.partition, r.offset), key(r.value)))
    return located


def parsed(model, key: Callable) -> Callable[[bytes], Hashable]:
    def read(value: bytes | None) -> Hashable:
        try:
            return key(model.model_validate_json(value or b""))
        except ValidationError:
            return ("not a valid record", (value or b"")[:80])
    return read


def _chunks(users: set[str]) -> list[list[str]]:
    ordered = sorted(users)
    return [ordered[i:i + IN_CHUNK] for i in range(0, len(ordered), IN_CHUNK)]


def mongo_found(settings: Settings, users: set[str], start: Offsets, end: Offsets):
    """(user_events documents, user_event_counts, dead letters in the run's range)."""
    stored: list[Located] = []
    counts: dict[tuple[str, str], int] = {}
    fields = ("UserId", "SessionId", "EventName", "TimeStamp", "Attributes")
    with mongo_io.client(settings, serverSelectionTimeoutMS=30_000) as client:
        db = client[settings.mongo_db]
        for chunk in _chunks(users):
            for doc in db[USER_EVENTS].find({"UserId": {"$in": chunk}}):
                event = UserEvent.model_validate({f: doc[f] for f in fields}, strict=False)
                kafka = doc["Kafka"]  # its coordinates, whichever incarnation named its id
                stored.append((at(kafka["Topic"], kafka["Partition"], kafka["Offset"]),
                               event_key(event)))
            for doc in db[USER_EVENT_COUNTS].find({"UserId": {"$in": chunk}}):
                counts[(doc["UserId"], doc["EventName"])] = doc["EventCount"]
        dead = [doc["_id"] for doc in db[USER_EVENTS_DEAD_LETTER].find({}, {"Kafka": 1})
                if doc["Kafka"]["Topic"] == USER_EVENTS_TOPIC
                and in_range(start, end, USER_EVENTS_TOPIC, doc["Kafka"]["Partition"],
                             doc["Kafka"]["Offset"])]
    return stored, counts, dead


def lake_found(settings: Settings, users: set[str], start: Offsets, end: Offsets):
    """(raw/ rows of the run's users by their lineage, quarantine/ rows in the run's range)."""
    raw = tables.read(settings, RAW_TABLE)
    rows: list[Located] = []
    if raw is not None:
        ours = raw.filter(pc.is_in(raw["UserId"], value_set=pa.array(sorted(users), pa.string())))
        rows = [(at(PURCHASES_TOPIC, r["kafka_partition"], r["kafka_offset"]), r["OrderId"])
                for r in ours.select(["kafka_partition", "kafka_offset", "OrderId"]).to_pylist()]
    quarantine = tables.read(settings, QUARANTINE_TABLE)
    quarantined = [] if quarantine is None else [
        at(PURCHASES_TOPIC, r["kafka_partition"], r["kafka_offset"])
        for r in quarantine.select(["kafka_partition", "kafka_offset"]).to_pylist()
        if in_range(start, end, PURCHASES_TOPIC, r["kafka_partition"], r["kafka_offset"])]
    return rows, quarantined


# Each PostgreSQL table and the reference's name for the same result.
RECOMPUTED = {"top_products": "top_products", "payment_types": "payment_types",
              "top_customers_last_hour": "top_customers", "repeat_purchases": "repeat_purchases"}


def analysis_found(settings: Settings, analysis, users: set[str]):
    """(the run's OrderIds in the lake version the analysis read, the comparisons of its
    four PostgreSQL tables with DuckDB over exactly that version, as its refresh recorded it
    in PostgreSQL with the tables)."""
    conn = store.connect(settings)
    try:
        refresh = store.last_refresh(conn)
    finally:
        conn.close()
    dataset = tables.dataset(settings, RAW_TABLE, refresh.lake_version)
    orders = set(dataset.to_table(columns=["OrderId"], filter=ds.field("UserId").isin(
        sorted(users)))["OrderId"].to_pylist())
    expected = reference.analyse(dataset, refresh.as_of)
    over = f"DuckDB over lake version {refresh.lake_version} ({refresh.lake_files} files)"
    comparisons = [Comparison(f"{table} (PostgreSQL) == {over}", analysis.tables[table].rows,
                              [tuple(r.values()) for r in expected[name].to_pylist()])
                   for table, name in RECOMPUTED.items()]
    repeat = expected["repeat_purchases"].to_pylist()
    return orders, [*comparisons, Comparison(
        "sql/top_repeat.sql == recomputed from DuckDB's repeat_purchases",
        analysis.tables["top_repeat"].rows, top_repeat(repeat))]


def collect(settings: Settings, ledger: Ledger, start: Offsets, end: Offsets,
            analysis=None) -> Found:
    users = ledger.users
    stored, counts, dead = mongo_found(settings, users, start, end)
    lake_rows, quarantined = lake_found(settings, users, start, end)
    orders, comparisons = analysis_found(settings, analysis, users) if analysis else (set(), [])
    return Found(
        kafka_events=kafka_records(settings, USER_EVENTS_TOPIC, start, end, users,
                                   parsed(UserEvent, event_key)),
        stored_events=stored, event_counts=counts, dead_letters=dead,
        kafka_purchases=kafka_records(settings, PURCHASES_TOPIC, start, end, users,
                                      parsed(Purchase, lambda p: p.OrderId)),
        lake_purchases=lake_rows, quarantined=quarantined,
        analysed_orders=orders, comparisons=comparisons)
