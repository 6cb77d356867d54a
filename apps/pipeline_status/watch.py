"""`invoke watch`: the report, live, refreshed about every 2 seconds until Ctrl-C."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live

from apps.pipeline_status.collect import report
from apps.pipeline_status.view import render
from apps.settings import Settings
from apps.stack.runtime import Runtime

REFRESH_S = 2.0


def watch(settings: Settings, runtime: Runtime, console: Console,
          every_s: float = REFRESH_S, rounds: int | None = None) -> None:
    """Read and show the report every `every_s` seconds (`rounds` times, or until Ctrl-C,
    which leaves the last screen in place and returns)."""
    done = 0
    try:
        with Live(render(report(settings, runtime)), console=console, auto_refresh=False,
                  screen=False) as live:
            started = time.monotonic()
            while rounds is None or (done := done + 1) < rounds:
                # every `every_s` from the last refresh's start: reading takes its share
                time.sleep(max(0.0, every_s - (time.monotonic() - started)))
                started = time.monotonic()
                live.update(render(report(settings, runtime)), refresh=True)
    except KeyboardInterrupt:
        pass
