"""Lake maintenance's pure parts, and how Airflow's task runs it in the project's Python."""

import argparse
import sys
from datetime import timedelta

import pytest

from apps.lake.maintenance import lake_root, retention_hours
from apps.lake.scheduled import maintenance_arguments, run_maintenance
from apps.project_python import PYTHON_VARIABLE, ProjectRunFailed, failure


def test_the_grace_is_never_shortened_to_delta_rs_whole_hours():
    assert retention_hours(timedelta(0)) == 0
    assert retention_hours(timedelta(minutes=30)) == 1  # rounded down it would be none
    assert retention_hours(timedelta(hours=2)) == 2
    assert retention_hours(timedelta(hours=2, seconds=1)) == 3


def test_a_root_is_the_pipelines_lake_or_a_relative_prefix_ending_in_a_slash():
    assert lake_root("") == ""
    assert lake_root("tests/maint-1/") == "tests/maint-1/"
    for wrong in ("tests/maint-1", "/tests/maint-1/", "raw"):
        with pytest.raises(argparse.ArgumentTypeError):
            lake_root(wrong)


def test_the_scheduled_command_compacts_closed_periods_of_the_named_lake():
    assert maintenance_arguments(True) == ["--closed"]
    assert maintenance_arguments(False, "tests/x/") == ["--root", "tests/x/"]
    killed = failure(["p", "-m", "m"], -9, ["a", "b"])
    assert str(killed) == "p -m m failed (killed by signal 9); its last lines:\na\nb"
    assert "(exit status 1)" in str(failure(["p"], 1, []))


def test_a_failed_maintenance_fails_the_task_with_its_last_lines():
    """A real subprocess in this Python: a --root maintenance refuses before any store."""
    with pytest.raises(ProjectRunFailed) as caught:
        run_maintenance(closed=True, root="not-a-prefix", environ={PYTHON_VARIABLE: sys.executable})
    assert "(exit status 2)" in str(caught.value)
    assert "a lake prefix is relative and ends with '/'" in str(caught.value)
    with pytest.raises(ProjectRunFailed, match=PYTHON_VARIABLE):
        run_maintenance(environ={})


def test_airflow_processes_get_the_projects_python_whatever_the_callers_path(settings,
                                                                            monkeypatch):
    from apps.stack.services import airflow

    before = airflow.environment(settings)
    monkeypatch.setenv("PATH", "/opt/elsewhere/bin:/bin:/usr/bin")
    monkeypatch.setenv("VIRTUAL_ENV", "/opt/elsewhere")
    assert airflow.environment(settings) == before
    assert before[PYTHON_VARIABLE] == sys.executable  # the stream's and generator's too


def test_a_lease_is_free_once_expired_or_once_its_holder_on_this_host_is_gone():
    from datetime import UTC, datetime

    from apps.lake.lease import Holder, claimable

    now = datetime(2026, 12, 2, 12, 0, tzinfo=UTC)
    holder = Holder("vm:41:ab", "vm", 41, now + timedelta(seconds=30))
    assert Holder.from_json(holder.to_json()) == holder
    assert not claimable(holder, now, "vm", alive=lambda pid: True)
    assert claimable(holder, now, "vm", alive=lambda pid: False)  # killed: run again at once
    assert not claimable(holder, now, "other-host", alive=lambda pid: False)  # not our pid
    assert claimable(holder, now + timedelta(seconds=30), "other-host")
