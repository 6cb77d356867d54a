"""Supervision and idempotence of the running stack."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apps.settings import ENV_FILE, REPO_ROOT
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


def invoke_up(environment: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "invoke", "up", "--skip", "generator"],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=600,
                          env=environment)


def running_pids(supervisor: Supervisor) -> dict[str, int]:
    return {name: info["pid"] for name, info in supervisor.info().items()
            if info["statename"] == "RUNNING"}


def other_shell() -> dict[str, str]:
    """The caller's environment as another shell has it: PATH in another order, with a
    folder of its own and without Go (a provisioned stack needs no build tool)."""
    folders = [f for f in os.environ["PATH"].split(os.pathsep) if not (Path(f) / "go").exists()]
    environment = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return {**environment, "PATH": os.pathsep.join(["/opt/elsewhere/bin", *reversed(folders)])}


def test_up_again_from_another_shell_is_a_no_op_that_reports_status(stack):
    supervisor = Supervisor()
    pids = running_pids(supervisor)
    result = invoke_up(other_shell())
    assert result.returncode == 0, result.stdout + result.stderr
    assert "provisioning" not in result.stdout
    for name in ("postgres", "kafka", "mongo", "s3", "airflow"):
        assert f"✔ {name} healthy" in result.stdout
    assert running_pids(supervisor) == pids
    # Printed into a pipe, the table is not folded to 80 columns: each row is one line.
    for name, url in (("kafka", stack.kafka_bootstrap_servers), ("api", stack.api_url)):
        assert any(f" {name} " in line and url in line and "healthy" in line
                   for line in result.stdout.splitlines()), result.stdout


def test_a_changed_env_restarts_the_programs_that_read_it(stack, webhook):
    """ALERT_WEBHOOK_URL added to `.env`: `invoke up` restarts the API, the stream job and
    its alert listener (they read `.env` once) and nothing else; a `kill -9` of the job
    then reaches the new webhook."""
    url, received = webhook
    supervisor = Supervisor()
    before = running_pids(supervisor)
    original = ENV_FILE.read_text()
    try:
        ENV_FILE.write_text(f"{original.rstrip()}\nALERT_WEBHOOK_URL={url}\n")
        result = invoke_up(os.environ.copy())
        assert result.returncode == 0, result.stdout + result.stderr
        after = running_pids(supervisor)
        for reader in ("api", "purchase-stream", "purchase-stream-alert"):
            assert after[reader] != before[reader], reader
        for server in ("postgres", "kafka", "ferretdb", "seaweedfs", "airflow-scheduler"):
            assert after[server] == before[server], server
        os.kill(after["purchase-stream"], signal.SIGKILL)
        deadline = time.monotonic() + 60
        while not received and time.monotonic() < deadline:
            time.sleep(0.5)
        assert [m["program"] for m in received] == ["purchase-stream"], received
    finally:
        ENV_FILE.write_text(original)
        restored = invoke_up(os.environ.copy())
    assert restored.returncode == 0, restored.stdout + restored.stderr


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
