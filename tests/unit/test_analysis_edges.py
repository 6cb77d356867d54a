"""The analysis's edges without servers: parameters, named queries, charts, the report,
and the benchmark's generated purchases."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest

from apps.analysis import charts, queries
from apps.analysis.lake import AnalysisError, bucket_and_key
from apps.analysis.hours import parse_as_of
from apps.analysis.report import Section, Table, render
from apps.bench.analyze import purchases
from apps.contract.models import Purchase
from apps.purchase_stream.layout import RAW_ARROW
from tests.unit.test_analysis_golden import contract_fields, wire_json


def test_as_of_is_utc_and_defaults_to_now():
    assert parse_as_of("2026-11-28T13:00:00+01:00") == datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert parse_as_of("2026-11-28T12:00:00") == datetime(2026, 11, 28, 12, tzinfo=UTC)
    assert abs((parse_as_of(None) - datetime.now(UTC)).total_seconds()) < 5
    with pytest.raises(AnalysisError, match=r"^as_of 'noon' is not an ISO 8601 timestamp"):
        parse_as_of("noon")


def test_named_queries():
    assert list(queries.known()) == ["top-repeat"]
    assert queries.query_file("top-repeat").name == "top_repeat.sql"
    assert queries.query_file("top_repeat.sql").name == "top_repeat.sql"
    with pytest.raises(AnalysisError, match=r"^no query 'nope' in sql/; known: top-repeat$"):
        queries.query_file("nope")


def test_s3_urls():
    assert bucket_and_key("s3a://purchases/raw/dt=2026-11-28/b.parquet") == \
        ("purchases", "raw/dt=2026-11-28/b.parquet")
    with pytest.raises(AnalysisError, match="not an S3 URL"):
        bucket_and_key("/tmp/raw")


def test_report_embeds_charts_and_escapes_values(tmp_path):
    chart = charts.top_products([(1, "p<1>", 5, Decimal("1.00"), 2)], tmp_path / "top.png")
    empty = charts.payment_types([], tmp_path / "payments.png")
    assert chart.read_bytes()[:4] == b"\x89PNG" and empty.read_bytes()[:4] == b"\x89PNG"
    html = render("t", "intro", [Section("s", "", Table(["product_id"], [("p<1>",)]),
                                         [chart, empty])])
    assert html.count("data:image/png;base64,") == 2
    assert "p&lt;1&gt;" in html and "p<1>" not in html


def test_benchmark_purchases_obey_the_contract():
    table = purchases(500, seed=3)
    assert table.schema == RAW_ARROW
    assert table.num_rows == 505  # 1% retried
    assert len(set(table["OrderId"].to_pylist())) == 500
    for row in table.to_pylist():
        Purchase.model_validate_json(wire_json(contract_fields(row)))


def test_notes_say_when_the_lake_or_the_hour_is_empty():
    from apps.analysis.run import notes_for

    summary = {"lake_url": "s3a://purchases/raw/", "window_start": "a", "window_end": "b",
               "orders": 0, "counts": {"top_customers_last_hour": 0}}
    assert notes_for(summary) == [
        "The lake at s3a://purchases/raw/ holds no purchases yet: every result is empty."]
    assert notes_for({**summary, "orders": 3}) == [
        "No orders in the hour [a, b): top_customers_last_hour is empty."]
    assert notes_for({**summary, "orders": 3, "counts": {"top_customers_last_hour": 1}}) == []


def test_papermill_is_imported_without_compiling_the_iri_grammar():
    """`invoke analyze` imports papermill (and through nbformat, jsonschema) without the
    rfc3987-syntax grammar; papermill still reads and validates a notebook."""
    import subprocess
    import sys

    script = ("import sys; from apps.analysis.run import NOTEBOOKS, import_papermill; "
              "import_papermill(); import nbformat; "
              "nbformat.validate(nbformat.read(NOTEBOOKS / 'analysis.ipynb', as_version=4)); "
              "print(sorted(m for m in ('lark', 'jsonschema', 'nbformat') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                         check=True).stdout
    assert out.strip() == "['jsonschema', 'nbformat']"
