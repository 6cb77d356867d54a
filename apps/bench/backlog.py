"""`invoke bench dag --backlog HOURS`: a backlog drains run after run while traffic goes on.

On a topic, consumer group and databases of its own (deleted afterwards): HOURS of the
generator's default traffic (2,500 events a minute) already in Kafka, then the DAG's
runs (`pipeline.run_once`, each capped at USER_EVENTS_RUN_CAP) back to back while the
default traffic keeps arriving, until a run finds nothing waiting. Reported:
    - each run's rate against a plain `insert_many` of the same documents into the same
      server, measured in the same run (goal >= 0.7);
    - the longest run against its 2-minute schedule (goal <= 0.5);
    - the drain: runs needed (x 2 minutes on the schedule) and their summed time;
    - the lag left at the end, in records and in time (goal: within one schedule).
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime

from rich.console import Console
from rich.table import Table

from apps.bench.dag import PER_SCHEDULE, REFERENCE_CHUNK, produce, scratch, timed, traffic
from apps.bench.report import Figure
from apps.console import make_console
from apps.settings import get_settings
from apps.user_events import pipeline, progress
from apps.user_events.documents import event_document
from apps.user_events.mongo_io import insert_new

SCHEDULE_S = 120.0
PER_HOUR = PER_SCHEDULE * 30
PRODUCE_CHUNK = 50_000  # events generated and produced at a time (bounded memory)


def fill(settings, topic: str, n: int, console: Console) -> list:
    """`n` events of default traffic into the topic; returns the first chunk with its
    coordinates (the reference inserts those)."""
    first = None
    for i, start in enumerate(range(0, n, PRODUCE_CHUNK)):
        events = traffic(min(PRODUCE_CHUNK, n - start), seed=1000 + i)
        coordinates = produce(settings, topic, events)
        first = first or list(zip(events, coordinates))
        console.print(f"backlog: {start + len(events):,} of {n:,} events in Kafka")
    return first or []


def continuing_traffic(settings, topic: str, stop: threading.Event) -> threading.Thread:
    """The default rate (PER_SCHEDULE per 2 minutes), in one produce a second."""
    def send() -> None:
        seed = 10_000
        while not stop.wait(1.0):
            produce(settings, topic, traffic(PER_SCHEDULE // 120, seed=seed))
            seed += 1

    thread = threading.Thread(target=send, daemon=True)
    thread.start()
    return thread


def run(console: Console | None = None, hours: float = 24.0) -> list[Figure]:
    console = console or make_console()
    settings = get_settings()
    backlog = int(hours * PER_HOUR)
    cap = settings.user_events_run_cap
    with scratch(settings) as (topic, job):
        drain, reference = job("backlog"), job("backlog_reference")
        sample = fill(settings, topic, backlog, console)
        documents = [event_document(e, at, datetime.now(UTC)) for e, at in sample]
        with reference.mongo(settings) as client:
            collection = reference.db(client, settings)["user_events"]
            _, plain_s = timed(lambda: [insert_new(collection, documents[i:i + REFERENCE_CHUNK])
                                        for i in range(0, len(documents), REFERENCE_CHUNK)])
        plain_rate = len(documents) / plain_s

        stop = threading.Event()
        sender = continuing_traffic(settings, topic, stop)
        runs: list[tuple[int, float, float, int]] = []  # read, seconds, land s, waiting
        started = time.monotonic()
        try:
            while True:
                figures, seconds = timed(pipeline.run_once, settings, drain)
                land = figures["land"]
                runs.append((land["read"], seconds, land["seconds"], land["waiting"]))
                console.print(f"run {len(runs)}: {land['read']:,} events in {seconds:.1f} s "
                              f"(land {land['seconds']:.1f} s), {land['waiting']:,} waiting")
                if not land["waiting"]:
                    break
        finally:
            stop.set()
            sender.join()
        drained_s = time.monotonic() - started
        with drain.mongo(settings) as client:
            state = progress.document(drain.db(client, settings), topic)

    full = [r for r in runs if r[0] >= cap] or runs
    rate = sum(r[0] for r in full) / sum(r[1] for r in full)
    longest = max(r[1] for r in runs)
    waiting_s = ((datetime.now(UTC) - state["WaitingSince"]).total_seconds()
                 if state and state.get("WaitingSince") else 0.0)
    out = Table(title=f"events DAG: a backlog of {hours:g} h ({backlog:,} events), cap {cap:,}")
    for column in ("figure", "value"):
        out.add_column(column)
    out.add_row("runs to drain (back to back)", f"{len(runs)}")
    out.add_row("drain time, back to back", f"{drained_s:.0f} s")
    out.add_row("drain time on the 2-minute schedule", f"{len(runs) * SCHEDULE_S / 60:.0f} min")
    out.add_row("rate of full runs (land, count, commit)", f"{rate:,.0f} events/s")
    out.add_row("plain insert_many, same documents", f"{plain_rate:,.0f} events/s")
    out.add_row("longest run", f"{longest:.1f} s")
    out.add_row("left waiting at the end", f"{runs[-1][3]:,} records, {waiting_s:.0f} s")
    console.print(out)
    return [
        Figure("dag-backlog", "full runs events/s", rate, "events/s",
               "plain insert_many events/s", plain_rate, ">= 0.7"),
        Figure("dag-backlog", "longest run s", longest, "s", "schedule interval s",
               SCHEDULE_S, "<= 0.5"),
        Figure("dag-backlog", f"drain of {hours:g} h, runs x 2 min", len(runs) * SCHEDULE_S,
               "s", "hours of backlog s", hours * 3600),
        Figure("dag-backlog", "lag at the end s", waiting_s, "s", "schedule interval s",
               SCHEDULE_S, "<= 1"),
    ]
