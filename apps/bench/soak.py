"""`invoke bench soak [--minutes M]`: ten times the generator's default rate for M minutes,
through a pipeline of the soak's own, and whether anything grows.

An API process, topics, a stream job (checkpoint, lake prefix) and a consumer group and
database of the soak's own, all removed afterwards; the deployed pipeline's data is never
touched. The generator (`python -m apps.generator`, a process of its own, retrying as a
client does) sends 10x its default rate to that API; every 2 minutes this process does one
DAG run (`pipeline.run_once`: land, count, commit), as the schedule does, and a probe
thread times one request every 0.5 s. Measured: records accepted/s against offered,
the probe's p99 in the first and last minute, the stream's freshness (202 to readable in
S3) for the probe's purchases against the trigger, each DAG run's length against the
schedule, and each process's memory (PSS of its tree) after a minute and at the end.
After the load, one last DAG run and a wait for the lake: every UserEvents record in Kafka
must have been landed, every probe purchase be readable.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import httpx
import psutil
from rich.console import Console

from apps.api.local_server import running_api
from apps.bench.background import Background
from apps.bench.ingest import bench_topics
from apps.bench.report import Figure
from apps.bench.stream import JOB_START_S, LakeWatch, job_process, post_purchases, quantile
from apps.console import make_console
from apps.generator.run import DEFAULT_PRODUCTS, DEFAULT_USERS
from apps.contract.models import kafka_value
from apps.generator.sender import JSON, RETRY_GRACE_S
from apps.generator.traffic import TrafficBuilder
from apps.mongo import ensure_collections
from apps.purchase_stream.config import TRIGGER_SECONDS, StreamConfig
from apps.purchase_stream.store import remove_prefix
from apps.settings import REPO_ROOT, Settings, get_settings
from apps.stack.services.generator import RATE
from apps.stack.status import tree_memory_mib
from apps.user_events import kafka_io, pipeline

MULTIPLE = 10
DAG_EVERY_S = 120.0
SAMPLE_EVERY_S = 15.0
PROBE_EVERY_S = 0.5
GENERATOR_DONE = re.compile(r"generator done in ([0-9.]+)s: sent (\d+) · accepted (\d+) "
                            r"\((\d+) events, (\d+) purchases\)")
MEMORY_GOAL = "<= 1.2"  # end / start: flat


class Probe(Background):
    """One request every PROBE_EVERY_S beside the load, a UserEvent and a one-purchase array
    in turn, each timed: the API's latency under the load, and purchases whose way to the
    lake is timed. A thread of its own, in a process that is otherwise idle."""

    def __init__(self, api_url: str):
        super().__init__()
        self.api_url = api_url
        self.latencies: list[tuple[float, float]] = []  # (sent at, seconds)
        self.purchases_accepted: dict[str, float] = {}
        self.refused = 0
        self._builder = TrafficBuilder(int(time.time()), DEFAULT_USERS, DEFAULT_PRODUCTS)

    def _run(self) -> None:
        with httpx.Client(base_url=self.api_url, timeout=30) as client:
            turn = 0
            while not self._stop.wait(PROBE_EVERY_S):
                batch = self._builder.batch(1)
                started = time.monotonic()
                if turn % 2:  # an OrderId of its own: the generator's could be the same
                    purchase = batch.purchases[0].model_copy(update={"OrderId": f"probe-{turn}"})
                    ok = post_purchases(client, [purchase])
                    if ok:
                        self.purchases_accepted[purchase.OrderId] = time.time()
                else:
                    ok = client.put("/SendEvent", content=kafka_value(batch.events[0]),
                                    headers=JSON).status_code == 202
                self.latencies.append((started, time.monotonic() - started))
                self.refused += not ok
                turn += 1

    def p99_ms(self, since: float, until: float) -> float:
        window = [s for at, s in self.latencies if since <= at < until]
        return 1000 * quantile_or_nan(window, 0.99)


@dataclass(frozen=True)
class GeneratorSummary:
    seconds: float
    sent: int
    accepted: int
    events: int
    purchases: int


def generator_summary(log: Path) -> GeneratorSummary:
    """The generator's closing line, e.g. "generator done in 600.3s: sent 1 · accepted 1 (0
    events, 1 purchases) · ..." (a log file's lines may be wrapped: joined first)."""
    text = " ".join(log.read_text().split())
    match = GENERATOR_DONE.search(text)
    if match is None:
        raise RuntimeError(f"the generator did not finish; see {log}")
    return GeneratorSummary(float(match[1]), *map(int, match.group(2, 3, 4, 5)))


class DagRuns(Background):
    """`pipeline.run_once` every DAG_EVERY_S in a thread, as the schedule does."""

    join_timeout_s = None  # a run in flight ends first

    def __init__(self, settings: Settings, job: pipeline.Job):
        super().__init__()
        self.settings, self.job = settings, job
        self.runs: list[tuple[float, int]] = []  # (seconds, events read)
        self.failed: list[str] = []

    def once(self) -> None:
        """One run; a failed one is noted and the next takes its events, as on the schedule."""
        started = time.monotonic()
        try:
            figures = pipeline.run_once(self.settings, self.job)
        except Exception as exc:  # a server down meanwhile: the schedule goes on
            self.failed.append(f"{type(exc).__name__}: {str(exc)[:200]}")
            return
        self.runs.append((time.monotonic() - started, figures["land"]["read"]))

    def _run(self) -> None:
        while not self._stop.wait(DAG_EVERY_S):
            self.once()


def memory(pids: dict[str, int]) -> dict[str, float]:
    """PSS in MiB of each process's tree; of this process alone (its children are the API,
    the job and the generator, counted apart)."""
    own = os.getpid()
    return {name: psutil.Process().memory_full_info().pss / 2**20 if pid == own
            else tree_memory_mib(pid) for name, pid in pids.items()}


def quantile_or_nan(values: list[float], q: float) -> float:
    return quantile(values, q) if values else float("nan")


def records_in(settings: Settings, topic: str) -> int:
    with kafka_io.consumer(settings, None) as consumer:
        return sum(kafka_io.end_offsets(consumer, topic).values())


def run(console: Console | None = None, minutes: float = 10.0) -> list[Figure]:
    console = console or make_console()
    settings = get_settings()
    rate, name = MULTIPLE * RATE, uuid.uuid4().hex[:8]
    scratch = Path(tempfile.mkdtemp(prefix="shopstream-bench-soak-"))
    with bench_topics(settings) as environment:
        stream = StreamConfig(topic=environment["KAFKA_PURCHASES_TOPIC"],
                              root=f"bench/soak-{name}/", checkpoint=scratch / "checkpoint",
                              progress_file=scratch / "progress.json")
        dag = pipeline.Job(topic=environment["KAFKA_USER_EVENTS_TOPIC"],
                           group_id=f"bench-soak-{name}", database=f"bench_soak_{name}")
        with dag.mongo(settings) as client:
            ensure_collections(dag.db(client, settings))
        try:
            with job_process(stream, scratch / "job.log") as job, \
                    running_api(settings, scratch / "api.log", environment=environment) as api, \
                    LakeWatch(settings, stream.root, every=1.0) as lake:
                api.wait_for_health(200)
                [first] = TrafficBuilder(1, 10, 10).batch(1).purchases
                with httpx.Client(base_url=api.url, timeout=30) as client:
                    if not post_purchases(client, [first]) or \
                            lake.wait_for([first.OrderId], JOB_START_S):
                        raise RuntimeError(f"the stream job wrote nothing in {JOB_START_S} s")
                console.print(f"soak: {rate} purchases/s for {minutes:g} min -> {api.url}; "
                              f"topics {', '.join(environment.values())}; lake {stream.root}; "
                              f"logs in {scratch}")
                held = hold(settings, api, job.pid, rate, minutes * 60, dag, scratch, console)
                missing = lake.wait_for(held["probe"].purchases_accepted, 300)
                held["lags"] = [lake.readable[o] - at
                                for o, at in held["probe"].purchases_accepted.items()
                                if o in lake.readable]
                held["missing"] = missing
                held["kafka"] = {t: records_in(settings, t) for t in environment.values()}
                held["events_topic"] = environment["KAFKA_USER_EVENTS_TOPIC"]
        finally:
            with dag.mongo(settings) as client:
                client.drop_database(dag.database)
            remove_prefix(settings, stream.root)
    return figures(held, console)


def hold(settings: Settings, api, job_pid: int, rate: int, seconds: float, dag: pipeline.Job,
         scratch: Path, console: Console) -> dict:
    """The generator at `rate` for `seconds`, the probe and DAG runs beside it, memory
    sampled; then a last DAG run for what the last interval left."""
    log = scratch / "generator.log"
    command = [sys.executable, "-m", "apps.generator", "--rate", str(rate), "--duration",
               str(seconds), "--api-url", api.url, "--seed", str(int(time.time()))]
    start_mib: dict[str, float] = {}
    with DagRuns(settings, dag) as dag_runs, Probe(api.url) as probe:
        with log.open("w") as out:
            generator = subprocess.Popen(command, cwd=REPO_ROOT, stdout=out,
                                         stderr=subprocess.STDOUT)
        started = time.monotonic()
        pids = {"API": api.pid, "stream job": job_pid, "generator": generator.pid,
                "soak driver (probe, DAG runs, lake watch)": os.getpid()}
        try:
            while generator.poll() is None:
                time.sleep(SAMPLE_EVERY_S)
                elapsed = time.monotonic() - started
                if elapsed > seconds + RETRY_GRACE_S + 60:
                    raise RuntimeError(f"the generator did not stop; see {log}")
                if elapsed >= seconds:
                    continue  # the generator is finishing its retries
                now = memory(pids)
                if not start_mib and elapsed >= min(60, seconds / 4):
                    start_mib = now  # after a minute of load: warmed up, the baseline
                end_mib = now
                console.print(f"  {elapsed:4.0f} s: DAG runs {len(dag_runs.runs)}, probe "
                              f"p99 {probe.p99_ms(started, time.monotonic()):,.0f} ms; memory "
                              + ", ".join(f"{k} {v:,.0f} MiB" for k, v in now.items()))
        finally:
            if generator.poll() is None:
                generator.terminate()
                generator.wait(timeout=60)
        stopped = time.monotonic()
    dag_runs.once()
    return {"probe": probe, "dag_runs": dag_runs, "generator": generator_summary(log),
            "started": started, "stopped": stopped, "start_mib": start_mib, "end_mib": end_mib,
            "seconds": seconds}


def figures(held: dict, console: Console) -> list[Figure]:
    probe, dag_runs, gen = held["probe"], held["dag_runs"], held["generator"]
    t0, t1 = held["started"], held["started"] + held["seconds"]
    lags, runs = held["lags"], dag_runs.runs
    longest = max((run_s for run_s, _ in runs), default=0.0)
    landed = sum(events for _, events in runs)
    events_in_kafka = held["kafka"][held["events_topic"]]
    if held["missing"]:
        console.print(f"[red]{len(held['missing'])} probe purchases not readable in the lake[/]")
    baseline = f"start (after {min(60, held['seconds'] / 4):.0f} s of load)"
    out = [
        Figure("soak", "records accepted/s (generator)", gen.accepted / gen.seconds,
               "records/s", "records offered/s", gen.sent / gen.seconds, ">= 0.99"),
        Figure("soak", "purchases accepted/s (generator)", gen.purchases / gen.seconds,
               "purchases/s", f"target: {MULTIPLE}x the generator's default",
               float(MULTIPLE * RATE), ">= 0.95"),
        Figure("soak", "API p99 (probe), last minute", probe.p99_ms(t1 - 60, t1), "ms",
               "API p99 (probe), first minute", probe.p99_ms(t0, t0 + 60)),
        Figure("soak", "API p99 (probe), whole run", probe.p99_ms(t0, t1), "ms"),
        Figure("soak", "stream freshness p50 (probe purchases)", quantile_or_nan(lags, 0.5), "s",
               "trigger interval s", TRIGGER_SECONDS),
        Figure("soak", "stream freshness p95 (probe purchases)", quantile_or_nan(lags, 0.95),
               "s", "trigger interval s", TRIGGER_SECONDS, "<= 2"),
        Figure("soak", "probe purchases readable in the lake", float(len(lags)), "purchases",
               "probe purchases accepted", float(len(probe.purchases_accepted)), ">= 1"),
        Figure("soak", "DAG run, longest", longest, "s", "schedule interval s", DAG_EVERY_S,
               "<= 0.5"),
        Figure("soak", "DAG lag, worst (interval + longest run)", DAG_EVERY_S + longest, "s"),
        Figure("soak", f"DAG runs failed (of {len(runs) + len(dag_runs.failed)})",
               float(len(dag_runs.failed)), "runs", goal="<= 0"),
        Figure("soak", f"events landed by {len(runs)} DAG runs", float(landed), "events",
               "UserEvents records in Kafka", float(events_in_kafka), ">= 1"),
        *(Figure("soak", f"{name} memory (PSS), end", held["end_mib"][name], "MiB",
                 f"{name} memory, {baseline}", held["start_mib"].get(name), MEMORY_GOAL)
          for name in held["end_mib"])]
    console.print(f"generator: {gen.seconds:.0f} s, sent {gen.sent:,}, accepted {gen.accepted:,} "
                  f"({gen.events:,} events, {gen.purchases:,} purchases); probe: "
                  f"{len(probe.latencies):,} requests, {probe.refused} refused; Kafka records "
                  f"{held['kafka']}; DAG runs (s/events): "
                  + ", ".join(f"{r:.1f}/{n:,}" for r, n in runs)
                  + "".join(f"; a DAG run failed: {f}" for f in dag_runs.failed))
    return out
