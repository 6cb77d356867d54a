"""The death alert, with a real supervisord of the test's own: a program that is killed
with `kill -9` (it cannot report itself) makes the event listener post one JSON message to
the webhook per streak of failures, not one per restart."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from apps.purchase_stream.alert import FAILURES
from apps.settings import REPO_ROOT
from apps.stack.paths import LOG_DIR, STACK_DIR
from apps.stack.spec import Program
from apps.stack.supervisor import Supervisor, program_section

pytestmark = pytest.mark.integration

WATCHED = "stream-under-test"


def own_supervisord(folder: Path, programs: list[Program]) -> Supervisor:
    """A supervisord of a test's own, its socket, pid file and logs in `folder`, running
    `programs` with the stack's settings for each (restarted when they die); a client of it."""
    socket = folder / "s.sock"
    sections = "\n\n".join(program_section(p) for p in programs)
    conf = folder / "supervisord.conf"
    conf.write_text(f"""[unix_http_server]
file={socket}
[supervisord]
logfile={folder}/supervisord.log
pidfile={folder}/supervisord.pid
childlogdir={folder}
[rpcinterface:supervisor]
supervisor.rpcinterface_factory = supervisor.rpcinterface:make_main_rpcinterface

""" + sections.replace(str(LOG_DIR), str(folder)).replace("autostart=false", "autostart=true")
                   # a program without a cwd of its own runs in the stack's folder: here, this one
                   .replace(f"directory={STACK_DIR}\n", f"directory={folder}\n"))
    subprocess.run([sys.executable, "-m", "supervisor.supervisord", "-c", str(conf)], check=True)
    return Supervisor(socket)


@pytest.fixture
def supervisord(tmp_path, webhook):
    """A supervisord running a stand-in for the job and the stream's alert listener."""
    url, _ = webhook
    progress = tmp_path / "progress.json"
    job = Program(WATCHED, [sys.executable, "-c", "import time; time.sleep(3600)"])
    listener = Program("alert-under-test", [
        sys.executable, "-m", "apps.purchase_stream.alert", "--program", WATCHED,
        "--progress-file", str(progress)], env={"ALERT_WEBHOOK_URL": url}, cwd=REPO_ROOT,
        events=FAILURES)
    client = own_supervisord(tmp_path, [job, listener])
    try:
        yield client, progress
    finally:
        client.shutdown()


def running_pid(client: Supervisor, name: str, not_pid: int | None = None) -> int:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        info = client.info().get(name)
        if info and info["statename"] == "RUNNING" and info["pid"] != not_pid:
            return info["pid"]
        time.sleep(0.2)
    pytest.fail(f"{name} not running: {client.info().get(name)}")


def wait_messages(received: list, n: int, settle_s: float = 3.0) -> list:
    deadline = time.monotonic() + 30
    while len(received) < n and time.monotonic() < deadline:
        time.sleep(0.2)
    time.sleep(settle_s)  # and no more than n
    return list(received)


def test_one_alert_per_streak_of_kill_9(supervisord, webhook):
    client, progress = supervisord
    _, received = webhook
    running_pid(client, "alert-under-test")
    first = running_pid(client, WATCHED)
    os.kill(first, signal.SIGKILL)
    [message] = wait_messages(received, 1)
    assert message["program"] == WATCHED and message["event"] == "PROCESS_STATE_EXITED"
    assert f"pid {first}" in message["message"]

    second = running_pid(client, WATCHED, not_pid=first)
    os.kill(second, signal.SIGKILL)  # dies again before completing a batch: same streak
    assert len(wait_messages(received, 2)) == 1

    third = running_pid(client, WATCHED, not_pid=second)
    progress.write_text("{}")  # it completed a batch: the streak is over
    time.sleep(1.1)
    os.kill(third, signal.SIGKILL)
    assert len(wait_messages(received, 2)) == 2
