"""The deployed DAG under `invoke up`: parsed, unpaused, scheduled; a run triggered through
Airflow's REST API lands events sent through the API; a failed run alerts a webhook."""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, HTTPServer

import httpx
import pymongo
import pytest

from apps.mongo import USER_EVENT_COUNTS, USER_EVENTS
from apps.settings import REPO_ROOT
from apps.stack.services import airflow as airflow_service
from apps.user_events.airflow_api import DAG_ID, AirflowApi
from apps.api.local_server import running_api
from tests.integration.test_user_events import job, known_events  # noqa: F401 - a fixture

pytestmark = pytest.mark.integration

RUN_DEADLINE_S = 600


@pytest.fixture
def api(stack):
    with AirflowApi(stack) as client:
        yield client


def test_the_dag_is_parsed_unpaused_and_scheduled_every_two_minutes(api):
    assert [e for e in api.import_errors() if "user_events_to_mongo" in e["filename"]] == []
    dag = api.dag()
    assert (dag["is_paused"], dag["timetable_summary"], dag["max_active_runs"]) == \
        (False, "*/2 * * * *", 1)
    assert dag["fileloc"] == str(REPO_ROOT / "dags" / "user_events_to_mongo.py")


def wait_for_run(api: AirflowApi, run_id: str) -> dict:
    deadline = time.monotonic() + RUN_DEADLINE_S
    while time.monotonic() < deadline:
        run = api.run(run_id)
        if run["state"] in ("success", "failed"):
            return run
        time.sleep(3)
    raise TimeoutError(f"run {run_id} still {run['state']} after {RUN_DEADLINE_S} s")


def contract_fields(doc: dict) -> dict:
    return {k: doc[k] for k in ("UserId", "SessionId", "EventName", "TimeStamp", "Attributes")}


def test_a_run_triggered_through_the_rest_api_lands_events_sent_through_the_api(
        stack, api, job, tmp_path):
    """The deployed DAG, triggered with a topic, group and database of the test's own, on
    events sent through an API of the test's own: the pipeline's data is never touched."""
    events = known_events(60, seed=11, users=4)
    environment = {"KAFKA_USER_EVENTS_TOPIC": job.topic}
    with running_api(stack, tmp_path / "api.log", environment=environment) as local:
        local.wait_for_health(200)
        with httpx.Client(base_url=local.url, timeout=30) as http:
            for event in events:
                response = http.put("/SendEvent", content=event.model_dump_json(),
                                    headers={"content-type": "application/json"})
                assert response.status_code == 202, response.text
    conf = {"topic": job.topic, "group_id": job.group_id, "database": job.database}
    run = wait_for_run(api, api.trigger(conf=conf)["dag_run_id"])
    assert run["state"] == "success"
    assert api.task_result(run["dag_run_id"], "commit")["records"] == len(events)

    expected = Counter((e.UserId, e.EventName.value) for e in events)
    with pymongo.MongoClient(stack.mongo_url, tz_aware=True) as client:
        db = client[job.database]
        stored = list(db[USER_EVENTS].find())
        assert sorted(map(contract_fields, stored), key=repr) == sorted(
            (contract_fields(e.model_dump(mode="python") | {"EventName": e.EventName.value,
             "TimeStamp": e.TimeStamp.replace(microsecond=e.TimeStamp.microsecond // 1000 * 1000)})
             for e in events), key=repr)
        counts = {(d["UserId"], d["EventName"]): d["EventCount"]
                  for d in db[USER_EVENT_COUNTS].find()}
        assert counts == dict(expected)


class Webhook(BaseHTTPRequestHandler):
    received: list[dict] = []

    def do_POST(self):  # noqa: N802 - the http.server interface
        body = self.rfile.read(int(self.headers["content-length"]))
        Webhook.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args):
        pass


def test_a_run_that_fails_for_good_posts_one_alert_to_the_webhook(stack, tmp_path):
    """`dag.test()` in Airflow's own environment, with a metadata database of its own (the
    deployed scheduler never sees this run) and a Kafka address where nothing listens."""
    server = HTTPServer(("127.0.0.1", 0), Webhook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    Webhook.received = []
    env = {**os.environ, **airflow_service.environment(stack),
           "AIRFLOW_HOME": str(tmp_path),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{tmp_path}/airflow.db",
           "KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:9",  # discard port: refused at once
           "ALERT_WEBHOOK_URL": f"http://127.0.0.1:{server.server_port}/alert"}
    python = str(airflow_service.VENV.bin() / "python")
    try:
        subprocess.run([str(airflow_service.VENV.bin() / "airflow"), "db", "migrate"], env=env,
                       check=True, capture_output=True, timeout=300)
        # Retries as deployed, only a shorter wait between them.
        script = (
            "import datetime, runpy\n"
            "dag = runpy.run_path('dags/user_events_to_mongo.py')['user_events_to_mongo']()\n"
            "for t in dag.tasks: t.retry_delay = datetime.timedelta(seconds=1)\n"
            "print('STATE', dag.test().state)\n")
        proc = subprocess.run([python, "-c", script], env=env, cwd=REPO_ROOT,
                              capture_output=True, text=True, timeout=900)
    finally:
        server.shutdown()
    assert "STATE failed" in proc.stdout, proc.stdout[-3000:] + proc.stderr[-3000:]
    [alert] = Webhook.received  # one message, once the retries were spent
    assert (alert["dag"], alert["task"]) == (DAG_ID, "land")
    assert alert["run"].startswith("manual__")
    assert "127.0.0.1:9" in alert["error"]
    assert alert["log_url"].startswith(f"{stack.airflow_url.rstrip('/')}/dags/{DAG_ID}/runs/")
    assert alert["log_url"].endswith("/tasks/land?try_number=3")
