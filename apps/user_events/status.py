"""One line for `invoke status`: the DAG's last run and the consumer group's lag."""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
from kafka.errors import KafkaError

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


def group_lag(settings: Settings) -> str:
    from apps.contract.models import USER_EVENTS_TOPIC
    from apps.user_events import kafka_io
    from apps.user_events.pipeline import GROUP_ID

    try:
        with kafka_io.consumer(settings, GROUP_ID) as consumer:
            return f"lag {kafka_io.lag(consumer, USER_EVENTS_TOPIC):,} on {USER_EVENTS_TOPIC}"
    except (KafkaError, LookupError) as exc:
        return f"lag unknown ({exc.__class__.__name__})"


def activity(settings: Settings) -> str:
    return f"{last_run(settings)}; {group_lag(settings)}"
