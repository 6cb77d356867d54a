"""Waiting, with a deadline, until the DAG and the stream have passed a run's last offsets."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from contextlib import contextmanager
from datetime import datetime

from apps.analysis.refreshes import REFRESH_DAG_ID
from apps.contract.models import PURCHASES_TOPIC, USER_EVENTS_TOPIC
from apps.purchase_stream.config import PROGRESS_FILE
from apps.settings import Settings
from apps.user_events import kafka_io
from apps.user_events.airflow_api import DAG_ID, AirflowApi
from apps.user_events.pipeline import GROUP_ID

POLL_S = 5.0
FINISHED = ("success", "failed")
Say = Callable[[str], None]


def passed(done: dict[int, int | None], target: dict[int, int]) -> bool:
    """Every partition's position is at or beyond the target's (None: nothing yet)."""
    return all((done.get(p) or 0) >= end for p, end in target.items())


def dag_committed(settings: Settings) -> dict[int, int | None]:
    with kafka_io.consumer(settings, GROUP_ID) as consumer:
        return kafka_io.committed(consumer, USER_EVENTS_TOPIC)


def wait_for_dag(settings: Settings, target: dict[int, int], timeout_s: float, say: Say) -> list:
    """Trigger DAG runs until the consumer group's commits pass `target`: a run commits only
    after its events are stored and counted. One run is triggered at a time; a scheduled
    run already going (max_active_runs=1) goes first. Returns [(run id, state)]."""
    deadline = time.monotonic() + timeout_s
    runs: list[tuple[str, str]] = []
    with AirflowApi(settings) as api:
        current = None
        while not passed(dag_committed(settings), target):
            if time.monotonic() > deadline:
                raise TimeoutError(f"the DAG did not commit past {target} within "
                                   f"{timeout_s:.0f} s; runs: {runs}")
            state = api.run(current)["state"] if current else None
            if current is None or state in FINISHED:
                if current:
                    runs.append((current, state))
                    say(f"DAG run {current} {state}; events still pending")
                current = api.trigger()["dag_run_id"]
                say(f"triggered DAG run {current}")
            time.sleep(POLL_S)
        if current:
            runs.append((current, api.run(current)["state"]))
    return runs


def runs_since(settings: Settings, moment: datetime, limit: int = 50) -> list[dict]:
    """The DAG's runs that started at or after `moment` (or have not started yet), oldest
    first, each with `landed`: the events its `land` task inserted (None if it has none)."""
    with AirflowApi(settings) as api:
        runs = api.get(f"/dags/{DAG_ID}/dagRuns", order_by="-run_after", limit=limit)["dag_runs"]
        began = [r for r in runs
                 if r["start_date"] is None or datetime.fromisoformat(r["start_date"]) >= moment]
        for run in began:
            run["landed"] = (api.task_result(run["dag_run_id"], "land") or {}).get("inserted")
    return sorted(began, key=lambda r: r["start_date"] or "~")


def stream_position() -> dict[int, int]:
    """Where the stream's last finished batch ended on PurchasedItem (its progress file)."""
    try:
        line = json.loads(PROGRESS_FILE.read_text())
    except (FileNotFoundError, json.JSONDecodeError):
        return {}
    return {int(p): o for p, o in line["end_offsets"].get(PURCHASES_TOPIC, {}).items()}


def wait_for_stream(target: dict[int, int], timeout_s: float) -> dict[int, int]:
    deadline = time.monotonic() + timeout_s
    while not passed(position := stream_position(), target):
        if time.monotonic() > deadline:
            raise TimeoutError(f"the stream's batches did not pass {target} within "
                               f"{timeout_s:.0f} s (last batch ended at {position})")
        time.sleep(POLL_S)
    return position


@contextmanager
def scheduled_refresh_paused(settings: Settings, timeout_s: float, say: Say):
    """The analysis tables left to `invoke analyze` while the run checks them: the refresh
    DAG paused once no run of it is going, unpaused afterwards whatever happens. Its
    refresh would otherwise replace the tables between the analysis and the check.

    A run going is waited for with the DAG unpaused: paused, Airflow would never schedule
    the retry of a task that failed once, and the run would never finish."""
    deadline = time.monotonic() + timeout_s
    with AirflowApi(settings) as api:
        try:
            while True:
                while run := api.going(REFRESH_DAG_ID):
                    if time.monotonic() > deadline:
                        raise TimeoutError(f"the refresh run {run['dag_run_id']} did not "
                                           f"finish in {timeout_s:.0f} s")
                    say(f"waiting for the refresh run {run['dag_run_id']} to finish")
                    time.sleep(POLL_S)
                api.set_paused(REFRESH_DAG_ID, True)
                if not api.going(REFRESH_DAG_ID):
                    break
                api.set_paused(REFRESH_DAG_ID, False)  # one began meanwhile: it finishes first
            yield
        finally:
            api.set_paused(REFRESH_DAG_ID, False)
