"""One line for `invoke status`: the DAG's last run, the lag it left, open losses."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx

from apps.settings import Settings


def age(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 120:
        return f"{seconds} s ago"
    if seconds < 7200:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def run_line(run: dict | None, landed: dict | None, now: datetime) -> str:
    if run is None:
        return "no DAG run yet"
    when = run.get("end_date") or run.get("start_date") or run.get("queued_at")
    line = f"last run {run['state']}"
    if when:
        line += f" {age(datetime.fromisoformat(when), now)}"
    if landed:
        line += f", {landed['inserted']} events landed"
    return line


def last_run(settings: Settings) -> str:
    from apps.user_events.airflow_api import AirflowApi

    try:
        with AirflowApi(settings, timeout=3) as api:
            run = api.last_run()
            landed = api.task_result(run["dag_run_id"], "land") if run else None
    except (httpx.HTTPError, KeyError) as exc:
        return f"last run unknown ({exc.__class__.__name__})"
    return run_line(run, landed, datetime.now(UTC))


def progress_line(progress: dict | None, open_losses: list[dict], now: datetime) -> str:
    """The lag the last run left (records past its cap, and how long the oldest waits) and
    the losses nobody acknowledged yet, as the runs recorded them."""
    if not progress or not progress.get("LandedAt"):
        line = "no run recorded yet"
    elif progress.get("WaitingRecords"):
        line = f"lag {progress['WaitingRecords']:,} records"
        if progress.get("WaitingSince"):
            line += f", the oldest from {age(progress['WaitingSince'], now)}"
    else:
        line = f"no lag at the last run ({age(progress['LandedAt'], now)})"
    if open_losses:
        records = sum(d["Records"] for d in open_losses)
        line += (f"; {records:,} records LOST in {len(open_losses)} ranges "
                 "(`invoke losses`)")
    return line


def recorded_progress(settings: Settings) -> str:
    from pymongo.errors import PyMongoError

    from apps import losses
    from apps.mongo import DATA_LOSSES
    from apps.contract.models import USER_EVENTS_TOPIC
    from apps.user_events import mongo_io, progress

    try:
        with mongo_io.client(settings, serverSelectionTimeoutMS=3000) as client:
            db = client[settings.mongo_db]
            return progress_line(progress.document(db, USER_EVENTS_TOPIC),
                                 losses.open_losses(db[DATA_LOSSES]), datetime.now(UTC))
    except PyMongoError as exc:
        return f"progress unknown ({exc.__class__.__name__})"


def activity(settings: Settings) -> str:
    return f"{last_run(settings)}; {recorded_progress(settings)}"
