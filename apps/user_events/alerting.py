"""What a task that failed for good tells the webhook (`ALERT_WEBHOOK_URL`)."""

from __future__ import annotations

import logging

from apps.alerts import post_alert

log = logging.getLogger(__name__)


def failure_message(dag_id: str, task_id: str, run_id: str, error: object, log_url: str) -> dict:
    return {
        "text": f"shopstream: task {task_id} of DAG {dag_id} failed in run {run_id}: {error}",
        "dag": dag_id, "task": task_id, "run": run_id,
        "error": f"{type(error).__name__}: {error}" if isinstance(error, BaseException)
        else str(error),
        "log_url": log_url,
    }


def alert_on_failure(context) -> None:
    """Airflow's on_failure_callback: runs once the task's retries are spent. Never raises:
    an alert that cannot be sent must not hide the failure it reports."""
    try:
        from apps.settings import get_settings

        ti = context["ti"]
        message = failure_message(ti.dag_id, ti.task_id, ti.run_id, context.get("exception"),
                                  ti.log_url)
        post_alert(get_settings().alert_webhook_url, message)
    except Exception:  # noqa: BLE001 - the callback is best effort by design
        log.exception("could not build or send the failure alert")
