"""Every 2 minutes: Kafka `UserEvents` into MongoDB `user_events`, counts, then the commit.

The work is in apps/user_events/pipeline.py; the tasks pass each other only what the run
covers (offset ranges of one incarnation of the topic, at most USER_EVENTS_RUN_CAP records). Offsets are committed last, so a run that fails anywhere before is
replayed whole by the next one, harmlessly (ids from Kafka coordinates, guarded counts).
"""

from datetime import datetime, timedelta, timezone

from airflow.sdk import dag, task

from apps.user_events.identity import DAG_ID, SCHEDULE
from apps.user_events.alerting import alert_on_failure


@dag(
    dag_id=DAG_ID,
    schedule=SCHEDULE,
    start_date=datetime(2026, 1, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=1,
    is_paused_upon_creation=False,
    dagrun_timeout=timedelta(minutes=30),
    default_args={
        "retries": 2,
        "retry_delay": timedelta(seconds=15),
        "execution_timeout": timedelta(minutes=20),
        "on_failure_callback": alert_on_failure,  # called once the retries are spent
    },
    tags=["shopstream"],
    # Empty: the pipeline's own. A triggered run may name a topic, consumer group and
    # database of its own (the tests do), so it never touches the pipeline's data.
    params={"topic": "", "group_id": "", "database": ""},
)
def user_events_to_mongo():
    @task
    def land(params=None) -> dict:
        from apps.settings import get_settings
        from apps.user_events import pipeline

        return pipeline.land(get_settings(), pipeline.Job.from_params(params))

    @task
    def count(landed: dict, params=None) -> dict:
        from apps.settings import get_settings
        from apps.user_events import pipeline

        return pipeline.count(get_settings(), landed, pipeline.Job.from_params(params))

    @task
    def commit(landed: dict, counted: dict, params=None) -> dict:
        from apps.settings import get_settings
        from apps.user_events import pipeline

        return pipeline.commit(get_settings(), landed, pipeline.Job.from_params(params))

    landed = land()
    commit(landed, count(landed))


user_events_to_mongo()
