"""`invoke analyze` after purchases sent through an API and landed by the stream: both
notebooks run, the tables are filled, and DuckDB recomputes the same answers from exactly
the version of the lake the analysis read.

All of it is the test's own and removed afterwards, never the pipeline's data: an API
process publishing to a topic of its own, the stream's query on that topic into a lake
prefix of its own, and a PostgreSQL schema of its own for the four tables."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import uuid

import httpx
import pytest
from deltalake import DeltaTable

from apps.analysis import reference, store
from apps.analysis.lake import RAW_PREFIX, AnalysisError, check_store
from apps.analysis.run import analyze
from apps.api.local_server import running_api
from apps.lake.tables import RAW_TABLE, storage_options
from apps.purchase_stream.store import s3a_url
from apps.settings import REPO_ROOT
from tests.integration.test_purchase_stream_lake import Scratch
from tests.unit.test_analysis_golden import (
    AS_OF,
    REPEAT_PURCHASES,
    contract_fields,
    kafka_records,
    wire_json,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]


def send_golden_purchases(api_url: str) -> None:
    """What Kafka holds of the golden purchases (o02 twice, as a client's retry), in one
    request, as a client sends them."""
    body = [contract_fields(row) for row in kafka_records()]
    response = httpx.post(f"{api_url}/PurchasedItems", timeout=30, content=wire_json(body),
                          headers={"content-type": "application/json"})
    assert response.status_code == 202, response.text


@pytest.fixture
def scratch(stack, tmp_path):
    scratch = Scratch(stack, tmp_path)
    yield scratch
    scratch.close()


@pytest.fixture
def schema(stack):
    name = f"analysis_test_{uuid.uuid4().hex[:10]}"
    conn = store.connect(stack)
    store.create_tables(conn, name)
    yield name
    store.drop_schema(conn, name)
    conn.close()


def test_invoke_analyze_matches_duckdb_over_the_same_version(stack, spark, scratch, schema,
                                                           tmp_path):
    with running_api(stack, tmp_path / "api.log",
                     environment={"KAFKA_PURCHASES_TOPIC": scratch.config.topic}) as api:
        api.wait_for_health(200)
        send_golden_purchases(api.url)
    scratch.drain(spark)

    lake = s3a_url(stack, f"{scratch.config.root}{RAW_PREFIX}")
    run = subprocess.run([sys.executable, "-m", "invoke", "analyze", "--as-of", AS_OF.isoformat(),
                          "--lake", lake, "--schema", schema],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    folder = REPO_ROOT / re.search(r"notebooks and charts: (\S+)", run.stdout)[1]
    for notebook in ("analysis.ipynb", "top_repeat_sql.ipynb"):
        assert (folder / notebook).stat().st_size > 0
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["lake_url"] == lake
    assert summary["orders"] > 0 and all(summary["counts"][t] > 0 for t in store.TABLES)

    # DuckDB over the version the analysis recorded, read by `deltalake` itself.
    read = DeltaTable(RAW_TABLE.under(scratch.config.root).uri(stack),
                      storage_options=storage_options(stack), version=summary["lake_version"])
    assert sorted(read.file_uris()) == summary["files"]
    expected = reference.analyse(read.to_pyarrow_dataset(), AS_OF)
    conn = store.connect(stack)
    try:
        repeat = store.read_table(conn, "repeat_purchases", schema)
        products = store.read_table(conn, "top_products", schema)
    finally:
        conn.close()
    assert repeat[1] == [tuple(r.values()) for r in expected["repeat_purchases"].to_pylist()]
    assert products[1] == [tuple(r.values()) for r in expected["top_products"].to_pylist()]
    assert repeat[1] == REPEAT_PURCHASES
    shutil.rmtree(folder)  # kept when an assertion fails, to be looked at


def test_a_missing_bucket_is_named_before_any_notebook_runs(stack, tmp_path):
    with pytest.raises(AnalysisError, match=r"^the S3 store at \S+ has no bucket "
                                            r"'no-such-bucket-\w+': `invoke up` creates it$"):
        analyze(lake=f"s3a://no-such-bucket-{uuid.uuid4().hex[:6]}/raw/", reports=tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_store_that_does_not_answer_says_invoke_up(stack, tmp_path):
    down = stack.model_copy(update={"s3_endpoint_url": "http://127.0.0.1:1"})
    with pytest.raises(AnalysisError, match=r"^the S3 store at http://127.0.0.1:1 does not "
                                            r"answer \(\w+\): start it with `invoke up`$"):
        check_store(down, "s3a://purchases/raw/")
