"""The analyses on the golden purchases: Spark's functions and DuckDB's reference both
give the answers worked out by hand in test_analysis_golden.py."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pyarrow as pa
import pytest
from pyspark import StorageLevel
from pyspark.sql import functions as F

from apps.analysis import analyses, reference
from apps.analysis.lake import read_lake
from apps.purchase_stream.layout import RAW_ARROW, RAW_SCHEMA
from tests.unit.test_analysis_golden import (
    AS_OF,
    COPIED,
    HOUR_START,
    ORDERS,
    PAYMENT_TYPES,
    RETRIED,
    REPEAT_PURCHASES,
    TOP_CUSTOMERS,
    TOP_PRODUCTS,
    lake_rows,
)


def utc(value: object) -> object:
    """Spark hands timestamps back as naive local times; make every timestamp aware UTC."""
    if isinstance(value, datetime):
        return value.astimezone(UTC)
    return value


def tuples(rows) -> list[tuple]:
    return [tuple(utc(v) for v in (r.asDict().values() if hasattr(r, "asDict") else r.values()))
            for r in rows]


def golden_arrow(rows: list[dict] | None = None) -> pa.Table:
    return pa.Table.from_pylist(lake_rows() if rows is None else rows, schema=RAW_ARROW)


def golden_frame(spark, rows: list[dict] | None = None):
    return spark.createDataFrame(
        [tuple(row[name] for name in RAW_SCHEMA.names)
         for row in (lake_rows() if rows is None else rows)], RAW_SCHEMA)


@pytest.fixture(scope="module")
def orders(spark):
    return analyses.dedupe_orders(golden_frame(spark)).cache()


def window_rows(expected):
    return [(*row, HOUR_START, AS_OF) for row in expected]


def test_dedupe_keeps_one_row_per_order(orders):
    assert orders.count() == len(ORDERS)
    [first] = orders.where(f"OrderId = '{RETRIED}'").collect()
    assert first.kafka_offset == min(r["kafka_offset"] for r in lake_rows()
                                     if r["OrderId"] == RETRIED)
    assert orders.where(f"OrderId = '{COPIED}'").count() == 1


def test_dedupe_keeps_the_first_of_three_rows_in_both_engines(spark):
    """A retried order whose first record is also in two objects: one row, the first."""
    [first] = [r for r in lake_rows() if r["OrderId"] == "o01"]
    rows = [{**first, "kafka_offset": first["kafka_offset"] + 1000}, first, dict(first)]
    [kept] = analyses.dedupe_orders(golden_frame(spark, rows)).collect()
    assert kept.kafka_offset == first["kafka_offset"]
    payment = reference.analyse(golden_arrow(rows), AS_OF)["payment_types"].to_pylist()
    assert tuples(payment) == [("CreditCard", 1, Decimal("1.000000"))]


def test_top_products(orders):
    assert tuples(analyses.top_products(orders).collect()) == TOP_PRODUCTS


def test_payment_types(orders):
    assert tuples(analyses.payment_types(orders).collect()) == PAYMENT_TYPES


def test_top_customers_in_the_hour_before(orders):
    got = tuples(analyses.top_customers(orders, AS_OF).collect())
    assert got == window_rows(TOP_CUSTOMERS)


def test_top_customers_takes_a_naive_as_of_as_utc(orders):
    naive = AS_OF.replace(tzinfo=None)
    assert tuples(analyses.top_customers(orders, naive).collect()) == window_rows(TOP_CUSTOMERS)


def test_an_hour_without_orders_is_empty(orders):
    assert analyses.top_customers(orders, datetime(2020, 1, 1, tzinfo=UTC)).count() == 0


def test_repeat_purchases(orders):
    assert tuples(analyses.repeat_purchases(orders).collect()) == REPEAT_PURCHASES


def test_stored_orders_are_the_deduplicated_orders_kept_on_disk(spark):
    stored = analyses.stored_orders(golden_frame(spark))
    try:
        assert stored.storageLevel == StorageLevel.DISK_ONLY
        assert stored.columns == list(analyses.ANALYSED)
        assert stored.count() == len(ORDERS)
        assert tuples(analyses.payment_types(stored).collect()) == PAYMENT_TYPES
        assert tuples(analyses.repeat_purchases(stored).collect()) == REPEAT_PURCHASES
    finally:
        stored.unpersist()


def test_keys_that_collide_for_every_row_give_the_same_answers(spark, monkeypatch):
    """The narrow keys only pick candidates; the exact step decides. With one key for every
    order and every pair, all rows are candidates, and every answer is still the golden one."""
    monkeypatch.setattr(analyses, "narrow_key", lambda *columns: F.lit(0).cast("long"))
    orders = analyses.dedupe_orders(golden_frame(spark))
    assert orders.count() == len(ORDERS)
    assert tuples(analyses.payment_types(orders).collect()) == PAYMENT_TYPES
    assert tuples(analyses.top_products(orders).collect()) == TOP_PRODUCTS
    assert tuples(analyses.repeat_purchases(orders).collect()) == REPEAT_PURCHASES


def test_without_dedupe_the_answers_change(spark):
    """The retried o02 and the copied o06 are counted twice when the dedupe step is skipped
    (a guard on the test)."""
    raw = golden_frame(spark)
    assert tuples(analyses.payment_types(raw).collect()) != PAYMENT_TYPES
    assert tuples(analyses.repeat_purchases(raw).collect()) != REPEAT_PURCHASES


def test_duckdb_reference_gives_the_same_answers():
    results = reference.analyse(golden_arrow(), AS_OF)
    assert tuples(results["top_products"].to_pylist()) == TOP_PRODUCTS
    assert tuples(results["payment_types"].to_pylist()) == PAYMENT_TYPES
    assert tuples(results["top_customers"].to_pylist()) == window_rows(TOP_CUSTOMERS)
    assert tuples(results["repeat_purchases"].to_pylist()) == REPEAT_PURCHASES


def test_read_lake_reads_the_files_of_the_tables_latest_version(spark, settings, tmp_path):
    from deltalake import DeltaTable, write_deltalake

    from apps.lake.tables import RAW_TABLE, with_period

    rows = golden_arrow()
    for half in (rows.slice(0, 5), rows.slice(5)):  # two commits, as two batches make
        write_deltalake(str(tmp_path / "raw"), with_period(half, RAW_TABLE), mode="append",
                        partition_by=["dt"])
    (tmp_path / "raw" / "dt=2026-11-28" / "stray.parquet").write_bytes(b"not in the log")
    lake = read_lake(spark, str(tmp_path / "raw"), settings)
    assert lake.version == 1 and sorted(lake.files) == sorted(
        DeltaTable(str(tmp_path / "raw")).file_uris())
    assert {f.split("/")[-2] for f in lake.files} == {
        f"dt={t:%Y-%m-%d}" for t in rows["TimeStamp"].to_pylist()}
    assert lake.purchases.count() == len(lake_rows())
    orders = analyses.dedupe_orders(lake.purchases)
    assert tuples(analyses.repeat_purchases(orders).collect()) == REPEAT_PURCHASES


def test_a_missing_or_empty_lake_is_empty(spark, settings, tmp_path):
    (tmp_path / "empty").mkdir()
    for path in (tmp_path / "missing", tmp_path / "empty"):
        lake = read_lake(spark, str(path), settings)
        assert lake.empty and lake.files == [] and lake.purchases.count() == 0
