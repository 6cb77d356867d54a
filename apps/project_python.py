"""A scheduled task's work run in the project's virtual environment, as a subprocess.

Airflow runs in a virtual environment of its own, whose lock is Airflow's: the project's
Spark, delta-rs and analysis code are not in it (and must not be). A DAG's task runs

    <project python> -m <module> [arguments]

with the interpreter from `SHOPSTREAM_PYTHON`, which the stack sets for every Airflow
process (apps/stack/services/airflow.py), its output into the task's log as it comes.
This module imports nothing of the project's, so a DAG parses without it.
"""

from __future__ import annotations

import logging
import os
import subprocess
from collections import deque
from pathlib import Path

log = logging.getLogger(__name__)

PYTHON_VARIABLE = "SHOPSTREAM_PYTHON"
REPO_ROOT = Path(__file__).resolve().parents[1]
TAIL_LINES = 30


class ProjectRunFailed(RuntimeError):
    """The subprocess exited non-zero; the message ends with its last lines."""


def failure(command: list[str], returncode: int, tail: list[str]) -> ProjectRunFailed:
    why = f"killed by signal {-returncode}" if returncode < 0 else f"exit status {returncode}"
    return ProjectRunFailed(f"{' '.join(command)} failed ({why}); its last lines:\n"
                            + "\n".join(tail))


def run_module(module: str, arguments: list[str],
               environ: dict[str, str] | None = None) -> list[str]:
    """Run `module` to its end in the project's Python, its lines into this process's log
    as they come; its last lines, or ProjectRunFailed with them."""
    environ = dict(os.environ if environ is None else environ)
    python = environ.get(PYTHON_VARIABLE)
    if not python:
        raise ProjectRunFailed(f"{PYTHON_VARIABLE} is not set: the stack sets it to the "
                               "project's Python for Airflow's processes (`invoke up`)")
    command = [python, "-m", module, *arguments]
    tail: deque[str] = deque(maxlen=TAIL_LINES)
    with subprocess.Popen(command, cwd=REPO_ROOT, env=environ, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True) as proc:
        try:
            for line in proc.stdout:
                line = line.rstrip("\n")
                tail.append(line)
                log.info("%s", line)
        except BaseException:  # the task timed out or was killed: the work stops with it
            proc.kill()
            raise
    if proc.returncode != 0:
        raise failure(command, proc.returncode, list(tail))
    return list(tail)
