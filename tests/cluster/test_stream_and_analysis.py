"""The stream and analyses on the standalone cluster at once: each application holds its
core, both finish, the analyses give the golden answers and the lake holds every accepted
purchase exactly once."""

from __future__ import annotations

import json
import threading
import time

import httpx
import pyarrow.compute as pc

from apps.analysis.run import analyze
from apps.contract.models import PURCHASED_ITEMS
from apps.generator.traffic import TrafficBuilder
from apps.lake import tables
from apps.lake.tables import RAW_TABLE
from apps.purchase_stream.config import PROGRESS_FILE
from apps.spark_session import CORES_PER_APPLICATION
from apps.stack.services import spark_cluster
from tests.integration.test_analysis_notebooks import golden_lake  # noqa: F401 - fixture
from tests.integration.test_analysis_stack import schema  # noqa: F401 - fixture
from tests.integration.test_warm_spark import assert_golden_tables
from tests.unit.test_analysis_golden import AS_OF


def last_batch() -> int:
    return json.loads(PROGRESS_FILE.read_text())["batch_id"]


APPLICATIONS = ("purchases-to-lake", "shopstream-spark-connect")
ORDERS, PER_POST, PAUSE_S = 240, 4, 0.8  # about 5 purchases a second for a minute
LAND_DEADLINE_S = 300


def running_applications(settings) -> dict[str, int]:
    state = httpx.get(f"{spark_cluster.master_ui(settings)}/json/", timeout=10).json()
    return {a["name"]: a["cores"] for a in state["activeapps"] if a["state"] == "RUNNING"}


def test_the_stream_and_analyses_share_the_cluster_and_the_lake_reconciles(
        cluster, golden_lake, schema, tmp_path):
    from apps.analysis import store

    assert {n: running_applications(cluster).get(n) for n in APPLICATIONS} == \
        dict.fromkeys(APPLICATIONS, CORES_PER_APPLICATION)
    # A fresh seed: the OrderIds of an earlier run are in the lake already.
    purchases = TrafficBuilder(seed=time.time_ns() % 2**32, users=80,
                               products=40).batch(ORDERS).purchases
    accepted: list[str] = []

    def send() -> None:
        with httpx.Client(timeout=30) as client:
            for i in range(0, ORDERS, PER_POST):
                chunk = purchases[i:i + PER_POST]
                response = client.post(f"{cluster.api_url}/PurchasedItems",
                                       content=PURCHASED_ITEMS.dump_json(chunk),
                                       headers={"content-type": "application/json"})
                if response.status_code == 202:
                    accepted.extend(p.OrderId for p in chunk)
                time.sleep(PAUSE_S)

    first_batch = last_batch()
    traffic = threading.Thread(target=send)
    traffic.start()
    url, _ = golden_lake
    conn, analysed = store.connect(cluster), 0
    try:
        while traffic.is_alive():  # analyses, one after another, while purchases flow
            result = analyze(AS_OF.isoformat(), url, schema, tmp_path / f"r{time.time_ns()}")
            assert result.summary["spark"]["engine"] == "spark-connect"
            assert_golden_tables(conn, schema)
            analysed += 1
    finally:
        traffic.join()
        conn.close()
    assert len(accepted) == ORDERS

    deadline = time.monotonic() + LAND_DEADLINE_S
    while True:
        raw = tables.read(cluster, RAW_TABLE)
        landed = raw.filter(pc.is_in(raw["OrderId"], value_set=pc.cast(accepted, "string")))
        if landed.num_rows >= ORDERS or time.monotonic() > deadline:
            break
        time.sleep(5)
    assert landed.num_rows == ORDERS  # every accepted purchase, once
    assert len(set(landed["OrderId"].to_pylist())) == ORDERS
    assert analysed >= 2 and last_batch() > first_batch  # both went on
    print(f"\n{analysed} analyses and stream batches {first_batch + 1}-{last_batch()} at once; "
          f"{ORDERS} purchases landed once each")
    assert {n: running_applications(cluster).get(n) for n in APPLICATIONS} == \
        dict.fromkeys(APPLICATIONS, CORES_PER_APPLICATION)
