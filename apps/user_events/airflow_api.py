"""Airflow's REST API (v2), as `invoke status` and the tests use it on this DAG."""

from __future__ import annotations

import httpx

from apps.settings import Settings
from apps.user_events.identity import DAG_ID


class AirflowApi:
    def __init__(self, settings: Settings, timeout: float = 10.0):
        self.base = settings.airflow_url.rstrip("/")
        token = httpx.post(f"{self.base}/auth/token", timeout=timeout, json={
            "username": settings.airflow_admin_user,
            "password": settings.airflow_admin_password.get_secret_value()})
        token.raise_for_status()
        self.http = httpx.Client(base_url=f"{self.base}/api/v2", timeout=timeout, headers={
            "Authorization": f"Bearer {token.json()['access_token']}"})

    def __enter__(self) -> AirflowApi:
        return self

    def __exit__(self, *exc) -> None:
        self.http.close()

    def get(self, path: str, **params) -> dict:
        response = self.http.get(path, params=params)
        response.raise_for_status()
        return response.json()

    def dag(self, dag_id: str = DAG_ID) -> dict:
        return self.get(f"/dags/{dag_id}")

    def import_errors(self) -> list[dict]:
        return self.get("/importErrors")["import_errors"]

    def trigger(self, dag_id: str = DAG_ID, conf: dict | None = None) -> dict:
        response = self.http.post(f"/dags/{dag_id}/dagRuns",
                                  json={"logical_date": None, "conf": conf or {}})
        response.raise_for_status()
        return response.json()

    def set_paused(self, dag_id: str, paused: bool) -> None:
        response = self.http.patch(f"/dags/{dag_id}", json={"is_paused": paused})
        response.raise_for_status()

    def going(self, dag_id: str = DAG_ID) -> dict | None:
        """A run of the DAG that is queued or running (the oldest), else None."""
        runs = self.get(f"/dags/{dag_id}/dagRuns", state=["queued", "running"],
                        order_by="run_after", limit=1)["dag_runs"]
        return runs[0] if runs else None

    def run(self, run_id: str, dag_id: str = DAG_ID) -> dict:
        return self.get(f"/dags/{dag_id}/dagRuns/{run_id}")

    def last_run(self, dag_id: str = DAG_ID) -> dict | None:
        runs = self.get(f"/dags/{dag_id}/dagRuns", order_by="-run_after", limit=1)["dag_runs"]
        return runs[0] if runs else None

    def task_result(self, run_id: str, task_id: str, dag_id: str = DAG_ID):
        """A task's return value (its XCom), or None when it has none."""
        response = self.http.get(f"/dags/{dag_id}/dagRuns/{run_id}/taskInstances/{task_id}"
                                 "/xcomEntries/return_value", params={"deserialize": True})
        if response.status_code == 404:
            return None
        response.raise_for_status()
        return response.json()["value"]
