"""`invoke analyze` against the running stack, after purchases sent through the API: both
notebooks run, the tables are filled, and DuckDB recomputes the same answers from exactly
the files the analysis read (the stream keeps adding files meanwhile)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import uuid

import httpx
import pyarrow.dataset as ds
import pytest

from apps.analysis import reference, store
from apps.analysis.lake import RAW_PREFIX, AnalysisError, bucket_and_key, check_store
from apps.analysis.run import analyze
from apps.purchase_stream.layout import RAW_ARROW
from apps.purchase_stream.store import lake_filesystem
from apps.settings import REPO_ROOT
from tests.unit.test_analysis_golden import (
    AS_OF,
    REPEAT_PURCHASES,
    contract_fields,
    lake_rows,
    wire_json,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]
LANDING_DEADLINE_S = 600  # the stream's trigger is seconds; a cold or busy machine is slower


def send_golden_purchases(settings, prefix: str) -> set[str]:
    """The golden purchases (o02 twice, as a client's retry) under fresh ids, via the API:
    they stay in the pipeline's lake, as any client's traffic would."""
    body = [contract_fields(row) for row in lake_rows()]
    for purchase in body:  # every id of its own, so no ranking mixes them with real ones
        purchase["OrderId"] = prefix + purchase["OrderId"]
        purchase["UserId"] = prefix + purchase["UserId"]
        for line in purchase["Products"]:
            line["ProductId"] = prefix + line["ProductId"]
    response = httpx.post(f"{settings.api_url}/PurchasedItems", timeout=30,
                          content=wire_json(body),
                          headers={"content-type": "application/json"})
    assert response.status_code == 202, response.text
    return {p["OrderId"] for p in body}


def landed(settings, orders: set[str]) -> bool:
    fs = lake_filesystem(settings)
    try:
        lake = ds.dataset(f"{settings.s3_bucket}/{RAW_PREFIX}", filesystem=fs,
                          format="parquet", schema=RAW_ARROW)
    except FileNotFoundError:  # a fresh stack: the stream has not written raw/ yet
        return False
    found = lake.to_table(columns=["OrderId"],
                          filter=ds.field("OrderId").isin(sorted(orders)))["OrderId"]
    return set(found.to_pylist()) == orders


def test_invoke_analyze_matches_duckdb_over_the_same_files(stack):
    prefix = f"it-{uuid.uuid4().hex[:8]}-"
    orders = send_golden_purchases(stack, prefix)
    deadline = time.monotonic() + LANDING_DEADLINE_S
    while not landed(stack, orders):
        assert time.monotonic() < deadline, f"purchases {prefix}* not in raw/ after " \
                                            f"{LANDING_DEADLINE_S} s: is the stream running?"
        time.sleep(5)

    run = subprocess.run([sys.executable, "-m", "invoke", "analyze", "--as-of", AS_OF.isoformat()],
                         cwd=REPO_ROOT, capture_output=True, text=True, timeout=1200)
    assert run.returncode == 0, run.stdout + run.stderr
    folder = REPO_ROOT / re.search(r"notebooks and charts: (\S+)", run.stdout)[1]
    for notebook in ("analysis.ipynb", "top_repeat_sql.ipynb"):
        assert (folder / notebook).stat().st_size > 0
    summary = json.loads((folder / "summary.json").read_text())
    assert summary["orders"] > 0 and all(summary["counts"][t] > 0 for t in store.TABLES)

    paths = ["/".join(bucket_and_key(url)) for url in summary["files"]]
    files = ds.dataset(paths, filesystem=lake_filesystem(stack), format="parquet",
                       schema=RAW_ARROW)
    expected = reference.analyse(files, AS_OF)
    conn = store.connect(stack)
    try:
        repeat = store.read_table(conn, "repeat_purchases")
        products = store.read_table(conn, "top_products")
    finally:
        conn.close()
    assert repeat[1] == [tuple(r.values()) for r in expected["repeat_purchases"].to_pylist()]
    assert products[1] == [tuple(r.values()) for r in expected["top_products"].to_pylist()]
    ours = [r for r in repeat[1] if r[0].startswith(prefix)]
    assert ours == [(prefix + user, prefix + product, *rest)
                    for user, product, *rest in REPEAT_PURCHASES]


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
