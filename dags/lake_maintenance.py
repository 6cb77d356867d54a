"""Hourly: the purchase lake's closed periods compacted into large files, then the files
they replaced vacuumed once older than the grace period.

Airflow's environment has no delta-rs, so the task runs apps/lake/maintenance.py in the
project's one, as a subprocess (apps/lake/scheduled.py). A run killed midway leaves every
period whole, compacted or not; the next run simply does the rest.
"""

from datetime import datetime, timedelta, timezone

from airflow.sdk import dag, task

from apps.user_events.alerting import alert_on_failure

DAG_ID = "lake_maintenance"


@dag(
    dag_id=DAG_ID,
    schedule="0 * * * *",
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,  # two runs would race for the same periods' files
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(minutes=55),
    default_args={
        "retries": 1,
        "retry_delay": timedelta(minutes=2),
        "execution_timeout": timedelta(minutes=50),
        "on_failure_callback": alert_on_failure,  # called once the retries are spent
    },
    tags=["shopstream"],
    # Empty: the pipeline's lake. A triggered run may name a scratch prefix of its own
    # (the tests do), so it never touches the pipeline's data.
    params={"root": ""},
)
def lake_maintenance():
    @task
    def compact_closed_periods(params=None) -> list[str]:
        from apps.lake.scheduled import run_maintenance

        return run_maintenance(closed=True, root=(params or {}).get("root", ""))

    compact_closed_periods()


lake_maintenance()
