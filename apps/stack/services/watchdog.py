"""The watchdog (apps/pipeline_status/watchdog.py): alerts once when a stage goes stale,
from outside Airflow, so that a paused DAG or a stopped stream is noticed. Supervised."""

from __future__ import annotations

import sys

from apps.settings import REPO_ROOT, Settings
from apps.stack import probes
from apps.stack.spec import Health, Program, Service

PROGRAM = "watchdog"


def programs(settings: Settings) -> list[Program]:
    return [Program(PROGRAM, [sys.executable, "-m", "apps.pipeline_status.watchdog"],
                    cwd=REPO_ROOT)]


def health(settings: Settings) -> Health:
    return Health("watchdog process running", lambda: probes.programs_running(PROGRAM),
                  timeout_seconds=30)


SERVICE = Service(
    name="watchdog",
    description="alerts once when a stage of the pipeline goes stale",
    url=lambda s: "-",
    ports=lambda s: [],
    programs=programs,
    health=health,
    needs=("kafka", "mongo", "airflow"),
    host_process=True,
    reads_env_file=True,  # ALERT_WEBHOOK_URL
)
