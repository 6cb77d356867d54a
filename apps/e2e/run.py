"""One end-to-end run on the deployed stack: traffic through the API with a fresh seed and
a ledger of what it accepted, then the DAG, the stream and the analysis waited for, then
the reconciliation printed as one table. `chaos` injects faults (faults.py) meanwhile."""

from __future__ import annotations

import asyncio
import random
import signal
import threading
import time
from contextlib import contextmanager
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from apps.analysis.run import analyze
from apps.contract.models import PURCHASES_TOPIC, USER_EVENTS_TOPIC
from apps.e2e import found, waits
from apps.e2e.faults import Faults, Timeline
from apps.e2e.ledger import Ledger
from apps.e2e.reconcile import Row, reconcile
from apps.generator.run import DEFAULT_PRODUCTS, DEFAULT_USERS, status_line
from apps.generator.sender import Stats, run_batches
from apps.generator.traffic import TrafficBuilder
from apps.settings import Settings

DAG_TIMEOUT_S = 1200.0
STREAM_TIMEOUT_S = 600.0
PROGRESS_EVERY_S = 10.0


class Steps:
    """One line per step with its duration; a spinner meanwhile on a terminal."""

    def __init__(self, console: Console):
        self.console = console

    def say(self, text: str) -> None:
        self.console.print(f"[{time.strftime('%H:%M:%S')}] {text}", highlight=False,
                           soft_wrap=True)

    @contextmanager
    def step(self, what: str):
        started = time.monotonic()
        self.say(f"{what} ...")
        if self.console.is_terminal:
            with self.console.status(what):
                yield
        else:
            yield
        self.say(f"{what}: done in {time.monotonic() - started:.1f} s")


async def _traffic(builder: TrafficBuilder, rate: int, seconds: float, api_url: str,
                   stats: Stats, ledger: Ledger, say) -> None:
    async def progress() -> None:
        while True:
            await asyncio.sleep(PROGRESS_EVERY_S)
            say(status_line(stats))

    ticker = asyncio.create_task(progress())
    try:
        await run_batches(builder, rate, api_url, stats, asyncio.Event(), seconds, ledger.record)
    finally:
        ticker.cancel()


def send_traffic(settings: Settings, seconds: float, rate: int, ledger: Ledger,
                 steps: Steps) -> Stats:
    seed = random.SystemRandom().randrange(2**32)
    steps.say(f"traffic: seed {seed}, {rate} purchases/s for {seconds:.0f} s -> {settings.api_url}")
    builder = TrafficBuilder(seed, DEFAULT_USERS, DEFAULT_PRODUCTS)
    stats = Stats()
    asyncio.run(_traffic(builder, rate, seconds, settings.api_url, stats, ledger, steps.say))
    steps.say(status_line(stats))
    return stats


@contextmanager
def faults_during(settings: Settings, seconds: float, steps: Steps, timeline: Timeline):
    """Run the fault script beside the caller's traffic; always undo it (Ctrl-C too)."""
    faults = Faults(settings, seconds, timeline)
    thread = threading.Thread(target=faults.script, name="faults", daemon=True)
    thread.start()
    try:
        yield faults
        thread.join()  # the last fault may outlast the traffic
    finally:
        # A Ctrl-C reaches both `uv run` and this process, and uv passes it on again: a
        # second KeyboardInterrupt must not cut the undoing short and leave a server down.
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            faults.cancel.set()
            thread.join(timeout=300)
            faults.undo()
            steps.say("every fault undone: each service touched is running and healthy")
        finally:
            signal.signal(signal.SIGINT, previous)
    if faults.error:
        raise faults.error


def table(rows: list[Row], title: str) -> Table:
    out = Table(title=title, title_justify="left")
    for column in ("check", "expected", "found", ""):
        out.add_column(column, overflow="fold")
    for row in rows:
        out.add_row(row.check, str(row.expected), str(row.found),
                    "[green]ok[/]" if row.ok else "[red]MISMATCH[/]")
    return out


def timeline_table(timeline: Timeline) -> Table:
    out = Table(title="What was done when (seconds since the traffic began)",
                title_justify="left")
    out.add_column("t+ s", justify="right")
    out.add_column("event")
    for at, what in timeline.events:
        out.add_row(f"{at:.1f}", what)
    return out


def runs_table(runs: list[dict], began: datetime) -> Table:
    out = Table(title="DAG runs since the traffic began", title_justify="left")
    out.add_column("run", overflow="fold")
    for column in ("started t+ s", "ended t+ s", "state", "events landed"):
        out.add_column(column)

    def since(moment: str | None) -> str:
        return "-" if moment is None else \
            f"{(datetime.fromisoformat(moment) - began).total_seconds():.1f}"

    for run in runs:
        out.add_row(run["dag_run_id"], since(run["start_date"]), since(run["end_date"]),
                    run["state"], "-" if run["landed"] is None else str(run["landed"]))
    return out


def prove(settings: Settings, seconds: float, rate: int, console: Console,
          chaos: bool = False) -> bool:
    """Run it all; print the table (and for chaos the timeline). True if every row is ok."""
    steps = Steps(console)
    ledger = Ledger()
    with steps.step("noting Kafka's end offsets"):
        start = found.end_offsets(settings)
    timeline = Timeline(say=steps.say)
    began = datetime.now(UTC)
    with steps.step("sending traffic through the API" + (" while faults are injected"
                                                         if chaos else "")):
        if chaos:
            with faults_during(settings, seconds, steps, timeline):
                send_traffic(settings, seconds, rate, ledger, steps)
        else:
            send_traffic(settings, seconds, rate, ledger, steps)
        end = found.end_offsets(settings)
    with steps.step(f"DAG: runs until {USER_EVENTS_TOPIC} is committed past "
                    f"{end[USER_EVENTS_TOPIC]}"):
        runs = waits.wait_for_dag(settings, end[USER_EVENTS_TOPIC], DAG_TIMEOUT_S, steps.say)
        steps.say(f"DAG runs: {', '.join(f'{r} {s}' for r, s in runs) or 'none needed'}")
    with steps.step(f"stream: batches past {PURCHASES_TOPIC} {end[PURCHASES_TOPIC]}"):
        waits.wait_for_stream(end[PURCHASES_TOPIC], STREAM_TIMEOUT_S)
    with waits.scheduled_refresh_paused(settings, DAG_TIMEOUT_S, steps.say):
        with steps.step("analysis: both notebooks (invoke analyze)"):
            analysis = analyze()
            steps.say(f"report: {analysis.report}")
        with steps.step("reconciling Kafka, MongoDB, the lake and PostgreSQL with the ledger"):
            rows = reconcile(ledger, found.collect(settings, ledger, start, end, analysis))
    if chaos:
        console.print(timeline_table(timeline))
    console.print(runs_table(waits.runs_since(settings, began), began))
    for topic in (USER_EVENTS_TOPIC, PURCHASES_TOPIC):
        steps.say(f"the run's range of {topic} (partition: offsets): " + ", ".join(
            f"{p}: {start[topic].get(p, 0)}-{e}" for p, e in sorted(end[topic].items())))
    console.print(table(rows, f"{'chaos' if chaos else 'e2e'}: {len(ledger.users):,} users, "
                              f"{len(ledger.events):,} events, {len(ledger.purchases):,} "
                              f"purchases sent"))
    for row in rows:
        for difference in row.differences:
            console.print(f"[red]{row.check}[/]: {difference}", soft_wrap=True, highlight=False)
    ok = all(row.ok for row in rows)
    console.print("[green]every row holds[/]" if ok else "[red]MISMATCH: see the rows above[/]")
    return ok
