"""Runs the generator: builds traffic, sends it, shows progress, returns a summary."""

from __future__ import annotations

import asyncio
import json
import random
import signal
import time
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from rich.console import Console
from rich.live import Live

from apps.console import make_console
from apps.generator.sender import SESSIONS_IN_FLIGHT, Stats, run_batches
from apps.generator.traffic import TrafficBuilder
from apps.lake.runs import write_atomically
from apps.settings import get_settings

DEFAULT_USERS = 2000
DEFAULT_PRODUCTS = 500
LOG_EVERY_S = 10  # progress line period when the output is a log file, not a terminal


@dataclass(frozen=True)
class Summary:
    seed: int
    seconds: float
    sent: int
    accepted: int
    retried: int
    failed: int
    user_events: int
    purchases: int
    last_error: str


def status_line(stats: Stats) -> str:
    line = (f"sent {stats.sent} · accepted {stats.accepted} "
            f"({stats.user_events} events, {stats.purchases} purchases) · "
            f"retried {stats.retried} · failed {stats.failed}")
    return line + (f" · last error: {stats.last_error[:120]}" if stats.last_error else "")


RECORD_EVERY_S = 5  # how often the supervised generator records its figures for status


def progress_record(stats: Stats, before: Stats, seconds: float, at: datetime) -> dict:
    """What `invoke status` shows of the generator: its totals and its rates over the last
    `seconds` (since `before`)."""
    return {"at": at.isoformat(), "sent": stats.sent, "accepted": stats.accepted,
            "retried": stats.retried, "failed": stats.failed,
            "sent_records_per_second": round((stats.sent - before.sent) / seconds, 2),
            "accepted_records_per_second": round((stats.accepted - before.accepted) / seconds, 2)}


async def _record(stats: Stats, path: Path) -> None:
    """Replace `path` with the generator's figures every few seconds."""
    before = replace(stats)
    while True:
        await asyncio.sleep(RECORD_EVERY_S)
        write_atomically(path, json.dumps(progress_record(stats, before, RECORD_EVERY_S,
                                                          datetime.now(UTC))))
        before = replace(stats)


async def _progress(stats: Stats, console: Console) -> None:
    if console.is_terminal:
        with Live(status_line(stats), console=console, refresh_per_second=4) as live:
            while True:
                await asyncio.sleep(0.25)
                live.update(status_line(stats))
    while True:
        await asyncio.sleep(LOG_EVERY_S)
        console.print(status_line(stats), soft_wrap=True)


async def _run(builder: TrafficBuilder, rate: int, duration: float | None, api_url: str,
               stats: Stats, console: Console, sessions: int,
               progress_file: Path | None) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):  # a supervisor stops us with SIGTERM
        loop.add_signal_handler(sig, stop.set)
    progress = [asyncio.create_task(_progress(stats, console))]
    if progress_file:
        progress.append(asyncio.create_task(_record(stats, progress_file)))
    try:
        await run_batches(builder, rate, api_url, stats, stop, duration, sessions=sessions)
    finally:
        for task in progress:
            task.cancel()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run(rate: int, duration: float | None = None, seed: int | None = None,
        users: int = DEFAULT_USERS, products: int = DEFAULT_PRODUCTS,
        api_url: str | None = None, console: Console | None = None,
        sessions: int = SESSIONS_IN_FLIGHT, progress_file: Path | None = None) -> Summary:
    """Send `rate` purchases per second (with their sessions' events) for `duration`
    seconds, or until SIGINT/SIGTERM when it is None, `sessions` sessions at a time."""
    if min(rate, users, products, sessions) < 1:
        raise ValueError("rate, users, products and sessions must be at least 1")
    console = console or make_console()
    seed = random.SystemRandom().randrange(2**32) if seed is None else seed
    api_url = api_url or get_settings().api_url
    console.print(f"generator: seed {seed}, {rate} purchases/s, {users} users, "
                  f"{products} products, {sessions} sessions at a time -> {api_url}",
                  soft_wrap=True)
    builder = TrafficBuilder(seed, users, products)
    stats = Stats()
    started = time.monotonic()
    asyncio.run(_run(builder, rate, duration, api_url, stats, console, sessions, progress_file))
    summary = Summary(seed=seed, seconds=round(time.monotonic() - started, 1), **asdict(stats))
    console.print(f"generator done in {summary.seconds}s: {status_line(stats)}", soft_wrap=True)
    return summary
