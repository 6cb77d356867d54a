"""Supervision and idempotence of the running stack."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from apps.settings import REPO_ROOT
from apps.stack.services import mongo
from apps.stack.supervisor import Supervisor

pytestmark = pytest.mark.integration


def running_pid(supervisor: Supervisor, program: str) -> int:
    info = supervisor.info()[program]
    assert info["statename"] == "RUNNING", info
    return info["pid"]


def test_a_killed_server_comes_back_by_itself(stack):
    supervisor = Supervisor()
    before = running_pid(supervisor, "ferretdb")
    os.kill(before, signal.SIGKILL)
    health = mongo.SERVICE.health(stack)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = supervisor.info()["ferretdb"]
        if info["statename"] == "RUNNING" and info["pid"] != before and health.check() is None:
            break
        time.sleep(0.5)
    else:
        pytest.fail(f"ferretdb did not come back: {supervisor.info()['ferretdb']}")


def test_up_again_is_a_no_op_that_reports_status(stack):
    supervisor = Supervisor()
    pids = {name: info["pid"] for name, info in supervisor.info().items()
            if info["statename"] == "RUNNING"}
    result = subprocess.run([sys.executable, "-m", "invoke", "up", "--skip", "generator"],
                            cwd=REPO_ROOT, capture_output=True, text=True, timeout=300,
                            env={**os.environ, "COLUMNS": "200"})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "provisioning" not in result.stdout
    for name in ("postgres", "kafka", "mongo", "s3", "airflow"):
        assert f"✔ {name} healthy" in result.stdout
    after = {name: info["pid"] for name, info in supervisor.info().items()
             if info["statename"] == "RUNNING"}
    assert after == pids


def test_status_passes_with_skipped_programs_and_names_them():
    result = subprocess.run([sys.executable, "-m", "invoke", "status", "--json"], cwd=REPO_ROOT,
                            capture_output=True, text=True, timeout=120)
    services = {s["service"]: s for s in json.loads(result.stdout)["services"]}
    assert result.returncode == 0, result.stdout + result.stderr
    for name in ("postgres", "kafka", "mongo", "s3", "airflow", "api"):
        assert services[name]["healthy"], services[name]
    if not services["generator"]["healthy"]:  # `invoke up --skip generator`, as CI runs it
        assert services["generator"]["skipped"]
        assert services["generator"]["processes"] == {"generator": "STOPPED Not started"}
