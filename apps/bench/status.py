"""`invoke bench status`: `invoke status` on the running stack beside a bare `python -c
pass` (the interpreter's floor), alternately in the same run, several times each; the
median of each. Goal: status at most 2 s. Reads the stack, never starts or stops it.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time

from rich.console import Console

from apps.bench.report import Figure
from apps.console import make_console
from apps.settings import REPO_ROOT

ROUNDS = 7
STATUS = [sys.executable, "-m", "invoke", "status"]
FLOOR = [sys.executable, "-c", "pass"]


def wall(argv: list[str]) -> float:
    started = time.perf_counter()
    subprocess.run(argv, cwd=REPO_ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                   timeout=120)
    return time.perf_counter() - started


def run(console: Console | None = None, rounds: int = ROUNDS, **_) -> list[Figure]:
    console = console or make_console()
    times: dict[str, list[float]] = {"status": [], "floor": []}
    for i in range(rounds):  # alternately: a busy moment weighs on both
        times["status"].append(wall(STATUS))
        times["floor"].append(wall(FLOOR))
        console.print(f"round {i + 1}/{rounds}: invoke status {times['status'][-1]:.2f} s, "
                      f"python -c pass {times['floor'][-1]:.3f} s", highlight=False)
    status, floor = statistics.median(times["status"]), statistics.median(times["floor"])
    return [
        Figure("status", "invoke status, median wall time", round(status, 3), "s",
               "python -c pass", round(floor, 3)),
        Figure("status", "invoke status, slowest of the rounds", round(max(times["status"]), 3),
               "s", goal="<= 2"),
        Figure("status", "invoke status, median (goal)", round(status, 3), "s", goal="<= 2"),
    ]
