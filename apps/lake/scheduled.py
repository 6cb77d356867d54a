"""The lake's maintenance as Airflow runs it: in the project's virtual environment, as a
subprocess, since Airflow's own environment has no delta-rs (and must not: its lock is
Airflow's).

    <project python> -m apps.lake.maintenance --closed [--root PREFIX/]

The project's interpreter comes from `SHOPSTREAM_PYTHON`, which the stack sets for every
Airflow process (apps/stack/services/airflow.py). This module imports nothing of the
project's lake code, so the DAG parses without it.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections import deque
from pathlib import Path

log = logging.getLogger(__name__)

PYTHON_VARIABLE = "SHOPSTREAM_PYTHON"
REPO_ROOT = Path(__file__).resolve().parents[2]
TAIL_LINES = 30


class MaintenanceFailed(RuntimeError):
    """The maintenance subprocess exited non-zero; the message ends with its output."""


def maintenance_command(python: str, closed: bool, root: str = "") -> list[str]:
    command = [python, "-m", "apps.lake.maintenance"]
    if closed:
        command.append("--closed")
    if root:
        command += ["--root", root]
    return command


def failure(command: list[str], returncode: int, tail: list[str]) -> MaintenanceFailed:
    why = f"killed by signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    return MaintenanceFailed(f"{' '.join(command)} failed ({why}); its last lines:\n"
                             + "\n".join(tail))


def run_maintenance(closed: bool = True, root: str = "",
                    environ: dict[str, str] | None = None) -> list[str]:
    """Run the maintenance to its end, its lines into this process's log as they come;
    the last lines, or MaintenanceFailed with them."""
    environ = dict(os.environ if environ is None else environ)
    python = environ.get(PYTHON_VARIABLE)
    if not python:
        raise MaintenanceFailed(f"{PYTHON_VARIABLE} is not set: the stack sets it to the "
                                "project's Python for Airflow's processes (`invoke up`)")
    command = maintenance_command(python, closed, root)
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with subprocess.Popen(command, cwd=REPO_ROOT, env=environ, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        for line in proc.stdout:
            line = line.rstrip("\n")
            tail.append(line)
            log.info("%s", line)
    if proc.returncode != 0:
        raise failure(command, proc.returncode, list(tail))
    return list(tail)
