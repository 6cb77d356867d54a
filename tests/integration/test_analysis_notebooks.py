"""Both notebooks, headless, over the golden purchases written to an S3 prefix of the
test's own, into a PostgreSQL schema of its own; then the HTML report in Chromium."""

from __future__ import annotations

import shutil
import subprocess
import uuid

import numpy as np
import pyarrow as pa
import pytest
from matplotlib.image import imread

from apps.analysis import store
from apps.analysis.charts import BAR
from apps.analysis.run import analyze
from apps.lake import tables
from apps.lake.marks import Marks
from apps.lake.tables import RAW_TABLE
from apps.purchase_stream.layout import RAW, RAW_ARROW
from apps.purchase_stream.store import remove_prefix, s3a_url
from tests.unit.test_analysis_golden import (
    AS_OF,
    HOUR_START,
    ORDERS,
    PAYMENT_TYPES,
    REPEAT_PURCHASES,
    TOP_CUSTOMERS,
    TOP_PRODUCTS,
    kafka_records,
    lake_rows,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def golden_lake(stack):
    """The golden rows as the stream commits them: the retried o02 in a later batch, and
    the copied order's row once more in a third commit (one Kafka record twice in the lake)."""
    prefix = f"tests/analysis-{uuid.uuid4().hex[:10]}/"
    rows, in_kafka, lake = lake_rows(), len(kafka_records()), RAW_TABLE.under(prefix)
    marks = Marks("golden", "golden")
    for batch in (rows[:len(ORDERS)], rows[len(ORDERS):in_kafka], rows[in_kafka:]):
        table = pa.Table.from_pylist(batch, schema=RAW_ARROW)
        marks = marks.after(table)
        tables.append(stack, lake, table, marks)
    yield s3a_url(stack, f"{prefix}{RAW}/"), tables.snapshot(stack, lake).files
    remove_prefix(stack, prefix)


@pytest.fixture(scope="module")
def analysed(stack, golden_lake, tmp_path_factory):
    schema = f"analysis_test_{uuid.uuid4().hex[:10]}"
    conn = store.connect(stack)
    store.create_tables(conn, schema)
    url, _ = golden_lake
    result = analyze(AS_OF.isoformat(), url, schema, tmp_path_factory.mktemp("reports"))
    yield result, conn, schema
    store.drop_schema(conn, schema)
    conn.close()


def test_notebooks_read_exactly_the_golden_files(analysed, golden_lake):
    result, _, _ = analysed
    assert result.summary["files"] == golden_lake[1]
    assert result.summary["orders"] == len(ORDERS)
    for notebook in ("analysis.ipynb", "top_repeat_sql.ipynb"):
        assert (result.folder / notebook).stat().st_size > 0


def test_tables_hold_the_hand_worked_answers(analysed):
    _, conn, schema = analysed
    read = {name: store.read_table(conn, name, schema) for name in store.TABLES}
    assert read["top_products"] == (["rank", "product_id", "units", "revenue", "orders"],
                                    TOP_PRODUCTS)
    assert read["payment_types"][1] == PAYMENT_TYPES
    assert read["top_customers_last_hour"][1] == [(*r, HOUR_START, AS_OF) for r in TOP_CUSTOMERS]
    assert read["repeat_purchases"][1] == REPEAT_PURCHASES


def test_top_repeat_notebook_ranks_the_golden_repeats(analysed):
    result, _, _ = analysed
    # u01 repeats pA and pB, each in 2 orders: a tie broken by product id.
    assert result.tables["top_repeat"].rows == [(1, "pA", 1, 2, 3), (2, "pB", 1, 2, 4)]


def test_report_is_one_offline_file_with_every_chart(analysed):
    result, _, _ = analysed
    html = result.report.read_text()
    assert html.count("src='data:image/png;base64,") == 3
    assert "http://" not in html and "https://" not in html  # nothing fetched


def test_report_shows_its_charts_in_headless_chromium(analysed, tmp_path):
    # A missing browser fails the test, never skips it: .ci/run installs it.
    assert shutil.which("chromium"), "Debian's chromium is missing: `apt-get install chromium`"
    result, _, _ = analysed
    shot = tmp_path / "report.png"
    subprocess.run(["chromium", "--headless", "--no-sandbox", "--disable-gpu",
                    "--window-size=1200,2400", f"--screenshot={shot}",
                    result.report.as_uri()], check=True, capture_output=True, timeout=120)
    pixels = imread(shot)[..., :3]
    bar = np.array([int(BAR[i:i + 2], 16) / 255 for i in (1, 3, 5)])
    bar_pixels = int((np.abs(pixels - bar).max(axis=-1) < 0.02).sum())
    assert bar_pixels > 20_000, f"only {bar_pixels} pixels of the charts' bars on screen"
