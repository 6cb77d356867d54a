"""Every ANALYSIS_REFRESH_MINUTES (10 by default): the four analysis tables in PostgreSQL
refreshed from the purchase lake, so "top customers of the last hour" is never older than
that. The lake-wide tables are skipped while the lake has not changed.

Airflow's environment has no Spark, so the task runs apps/analysis/refresh.py in the
project's one, as a subprocess (apps/project_python.py), on the warm Spark when it answers.
"""

from datetime import datetime, timedelta, timezone

from airflow.sdk import dag, task

from apps.analysis.refreshes import REFRESH_DAG_ID
from apps.settings import get_settings
from apps.user_events.alerting import alert_on_failure

EVERY = timedelta(minutes=get_settings().analysis_refresh_minutes)


@dag(
    dag_id=REFRESH_DAG_ID,
    schedule=EVERY,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # one refresh at a time: each replaces the tables whole
    is_paused_upon_creation=False,
    dagrun_timeout=EVERY * 3,
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=1),
        "execution_timeout": EVERY * 2,
        "on_failure_callback": alert_on_failure,  # called once the retries are spent
    },
    tags=["shopstream"],
    # Empty: the pipeline's tables from the pipeline's lake, as of now. A triggered run may
    # name a schema, a lake and a moment of its own (the tests do), so it never touches the
    # pipeline's tables.
    params={"schema": "", "lake": "", "as_of": ""},
)
def analysis_refresh():
    @task
    def refresh_tables(params=None) -> list[str]:
        from apps.project_python import run_module

        params = params or {}
        arguments = [argument for name in ("schema", "lake", "as_of") if params.get(name)
                     for argument in (f"--{name.replace('_', '-')}", params[name])]
        return run_module("apps.analysis.refresh", arguments)

    refresh_tables()


analysis_refresh()
