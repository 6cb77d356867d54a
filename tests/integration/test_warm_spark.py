"""The warm Spark (the stack's Spark Connect server): `invoke analyze` and the refresh DAG
through it give the golden answers, leave nothing behind on it, and reconnect after a
restart. Each test reads the golden lake of tests/integration/test_analysis_notebooks.py
(a prefix of its own) into a PostgreSQL schema of its own."""

from __future__ import annotations

import json
import re
import time
import urllib.request
from datetime import timedelta

import pytest
from deltalake import DeltaTable

from apps.analysis import analyses, reference, store
from apps.analysis.refreshes import REFRESH_DAG_ID
from apps.analysis.run import analyze
from apps.e2e.found import RECOMPUTED
from apps.lake.tables import storage_options
from apps.stack.services import spark_connect
from apps.user_events.airflow_api import AirflowApi
from tests.integration.test_analysis_notebooks import golden_lake  # noqa: F401 - fixture
from tests.integration.test_analysis_stack import schema  # noqa: F401 - fixture
from tests.unit.test_analysis_golden import (
    AS_OF,
    HOUR_START,
    ORDERS,
    PAYMENT_TYPES,
    REPEAT_PURCHASES,
    TOP_CUSTOMERS,
    TOP_PRODUCTS,
)

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

REFRESH_DAG = REFRESH_DAG_ID


@pytest.fixture
def warm(stack):
    reason = spark_connect.SERVICE.health(stack).check()
    if reason:
        pytest.fail(f"the stack's warm Spark is down ({reason}): `invoke up` starts it")
    return stack


def server_page(settings, path: str) -> str:
    with urllib.request.urlopen(f"{spark_connect.ui_url(settings)}{path}", timeout=10) as page:
        return page.read().decode()


def assert_released(settings, session_id: str) -> None:
    """The session shows a finish time on the server's Connect page, and nothing is cached."""
    page = server_page(settings, "/connect/")
    row = re.search(rf"id={session_id}.*?</tr>", page, re.S)
    assert row, f"session {session_id} is not on the server's Connect page"
    cells = re.findall(r"<td>\s*(.*?)\s*</td>", row[0], re.S)
    assert re.fullmatch(r"\d{4}/\d\d/\d\d \d\d:\d\d:\d\d", cells[1]), cells  # start, finish
    [application] = json.loads(server_page(settings, "/api/v1/applications"))
    assert json.loads(server_page(settings, f"/api/v1/applications/{application['id']}"
                                            "/storage/rdd")) == []


def assert_classic_s3a_stream(settings) -> None:
    """The server read the lake through S3A's classic input stream: none of the analytics
    stream's threads, which it keeps for as long as it runs (apps/spark_session.py)."""
    [application] = json.loads(server_page(settings, "/api/v1/applications"))
    threads = json.loads(server_page(settings, f"/api/v1/applications/{application['id']}"
                                               "/executors/driver/threads"))
    assert [t["threadName"] for t in threads if "analytics" in t["threadName"]] == []


def assert_golden_tables(conn, schema: str) -> None:
    read = {name: store.read_table(conn, name, schema) for name in store.TABLES}
    assert read["top_products"][1] == TOP_PRODUCTS
    assert read["payment_types"][1] == PAYMENT_TYPES
    assert read["top_customers_last_hour"][1] == [(*r, HOUR_START, AS_OF) for r in TOP_CUSTOMERS]
    assert read["repeat_purchases"][1] == REPEAT_PURCHASES


def test_analyze_runs_on_the_warm_server_and_reconnects_after_a_restart(
        warm, golden_lake, schema, service_control, tmp_path):
    url, files = golden_lake
    conn = store.connect(warm)
    try:
        for restart in (False, True):
            if restart:  # restarted between two analyses: the next one finds it again
                service_control.stop(spark_connect.SERVICE.name)
                service_control.start(spark_connect.SERVICE.name)  # returns once healthy
            result = analyze(AS_OF.isoformat(), url, schema, tmp_path / f"reports-{restart}")
            assert result.summary["spark"]["engine"] == "spark-connect"
            assert result.summary["files"] == files
            assert result.summary["orders"] == len(ORDERS)
            assert_golden_tables(conn, schema)
            assert_released(warm, result.summary["spark"]["session_id"])
            assert_classic_s3a_stream(warm)
    finally:
        conn.close()


def wait_for(api: AirflowApi, run_id: str, deadline_s: float = 600) -> dict:
    deadline = time.monotonic() + deadline_s
    while (run := api.run(run_id, REFRESH_DAG))["state"] not in ("success", "failed"):
        assert time.monotonic() < deadline, run
        time.sleep(2)
    return run


def computed_at(conn, schema: str) -> dict[str, object]:
    with conn, conn.cursor() as cur:
        found = {}
        for table in store.TABLES:
            cur.execute(f'SELECT max(computed_at) FROM "{schema}"."{table}"')
            found[table] = cur.fetchone()[0]
        return found


def test_the_refresh_dag_writes_the_independent_answers_then_skips_an_unchanged_lake(
        warm, golden_lake, schema):
    url, _ = golden_lake
    conf = {"schema": schema, "lake": url, "as_of": AS_OF.isoformat()}
    conn = store.connect(warm)
    try:
        with AirflowApi(warm) as api:
            dag = api.dag(REFRESH_DAG)
            assert (dag["is_paused"], dag["max_active_runs"]) == (False, 1)
            every = timedelta(minutes=warm.analysis_refresh_minutes)
            assert dag["timetable_summary"] == str(every), dag["timetable_summary"]

            first = wait_for(api, api.trigger(REFRESH_DAG, conf)["dag_run_id"])
            assert first["state"] == "success", first
            refreshed = store.last_refresh(conn, schema)
            assert refreshed.tables == list(analyses.RESULTS)
            # DuckDB over the version the refresh recorded, read by `deltalake` itself.
            uri = "s3://" + url.split("://", 1)[1].rstrip("/")
            version = DeltaTable(uri, storage_options=storage_options(warm),
                                 version=refreshed.lake_version)
            expected = reference.analyse(version.to_pyarrow_dataset(), AS_OF)
            for table, name in RECOMPUTED.items():
                rows = store.read_table(conn, table, schema)[1]
                assert rows == [tuple(r.values()) for r in expected[name].to_pylist()], table
            assert_golden_tables(conn, schema)
            before = computed_at(conn, schema)

            second = wait_for(api, api.trigger(REFRESH_DAG, conf)["dag_run_id"])
            assert second["state"] == "success", second
        again = store.last_refresh(conn, schema)
        assert again.tables == [analyses.HOURLY]
        assert (again.lake_version, again.orders) == (refreshed.lake_version, refreshed.orders)
        after = computed_at(conn, schema)
        assert after[analyses.HOURLY] > before[analyses.HOURLY]
        assert {t: after[t] for t in store.TABLES if t != analyses.HOURLY} == \
            {t: before[t] for t in store.TABLES if t != analyses.HOURLY}
        assert_golden_tables(conn, schema)
    finally:
        conn.close()
