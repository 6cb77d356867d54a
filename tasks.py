"""shopstream's tasks. Each one parses its arguments, then calls into apps/.

    invoke up | down | status | watch | losses | logs NAME | doctor | test | generate | bench NAME|all | fuzz
    invoke analyze | sql NAME | lab | compact | e2e | chaos
"""

from __future__ import annotations

import json
import sys
from contextlib import contextmanager

from invoke import Exit, task
from rich.markup import escape

from apps.console import make_console

console = make_console()


@contextmanager
def explained():
    """Print a StackError as a plain message and exit non-zero, without a traceback."""
    from apps.settings import EnvFileMissing, redact
    from apps.stack.spec import StackError

    try:
        yield
    except (StackError, EnvFileMissing) as exc:
        console.print(f"[red]error:[/] {escape(redact(str(exc)))}", highlight=False)
        raise Exit(code=1) from None


@task(help={
    "skip": "comma-separated services not to start, e.g. generator",
    "profile": "default (one broker, local Spark) or cluster (three brokers, Spark standalone)",
})
def up(c, skip="", profile=""):
    """Provision (first run), start every service, wait for health, print the table."""
    import os

    from apps import profiles

    try:  # chosen before anything reads the stack's paths: they follow the profile
        chosen = profiles.profile(profile or os.environ.get(profiles.PROFILE_VARIABLE)
                                  or profiles.DEFAULT)
    except profiles.UnknownProfile as exc:
        raise Exit(f"invoke up --profile: {exc}", code=2) from None
    os.environ[profiles.PROFILE_VARIABLE] = chosen.name
    from apps.stack import status as stack_status
    from apps.stack.up import up as stack_up

    with explained():
        runtime = stack_up(skip=[s for s in skip.split(",") if s], console=console)
    from apps.pipeline_status.collect import report
    from apps.settings import get_settings

    console.print(stack_status.table(report(get_settings(), runtime).services, runtime.name,
                                     chosen.name))


@task(help={"wipe": "also delete .stack/ (all data and logs)", "yes": "do not ask before --wipe"})
def down(c, wipe=False, yes=False):
    """Stop every service and process; data is kept unless --wipe."""
    from apps.stack.down import down as stack_down

    if wipe and not yes and not console.input("Delete all shopstream data in .stack/? [y/N] ")\
            .strip().lower().startswith("y"):
        raise Exit("nothing deleted")
    stack_down(wipe=wipe, console=console)


@task(name="status", help={"json": "print the report as JSON (docs/status.md)"})
def status_(c, json_=False):
    """Each stage of the pipeline and each service: healthy or not and why, and the
    figures the stages recorded, with their ages."""
    from apps.pipeline_status.collect import report
    from apps.settings import get_settings
    from apps.stack.runtime import choose

    with explained():
        settings = get_settings()
    now = report(settings, choose(settings))
    if json_:
        print(json.dumps(now.to_json(), indent=2, default=str))
    else:
        from apps.pipeline_status.view import render

        console.print(render(now))
    if not now.ok:
        raise Exit(code=1)


@task
def watch(c):
    """`invoke status`, live: refreshed about every 2 s until Ctrl-C."""
    from apps.pipeline_status.watch import watch as live
    from apps.settings import get_settings
    from apps.stack.runtime import choose

    with explained():
        settings = get_settings()
    live(settings, choose(settings), console)


@task(name="losses", help={"ack": "acknowledge every open loss (they leave `invoke status`)",
                           "all": "also list the losses acknowledged before"})
def losses_(c, ack=False, all_=False):
    """Records Kafka deleted before the DAG or the stream read them: list, acknowledge."""
    from datetime import UTC, datetime

    from apps import losses
    from apps.mongo import DATA_LOSSES
    from apps.settings import get_settings
    from apps.user_events import mongo_io

    with explained():
        settings = get_settings()
    with mongo_io.client(settings, serverSelectionTimeoutMS=5000) as client:
        collection = client[settings.mongo_db][DATA_LOSSES]
        shown = (sorted(collection.find(), key=lambda d: d["DetectedAt"]) if all_
                 else losses.open_losses(collection))
        if not shown:
            console.print("no loss recorded" if all_ else "no open loss")
            return
        console.print(losses.table(shown))
        if ack:
            n = losses.acknowledge(collection, None, datetime.now(UTC))
            console.print(f"acknowledged {n} loss{'es' if n != 1 else ''}")


@task(help={"name": "a service (kafka, airflow, ...) or program (airflow-scheduler, ...)",
            "follow": "keep printing new lines", "lines": "how many lines to show"})
def logs(c, name, follow=False, lines=100):
    """Show a service's log from .stack/logs/."""
    from apps.stack.logs import log_files

    with explained():
        files = log_files(name)
    c.run(f"tail -n {int(lines)} {'-F' if follow else ''} {' '.join(map(str, files))}", pty=follow)


@task
def doctor(c):
    """Check Java, Go, Maven, uv, disk and ports; say what is missing and how to get it."""
    from apps.settings import get_settings
    from apps.stack.doctor import Finding, prerequisites
    from apps.stack.envfile import ensure_env
    from apps.stack.runtime import choose, docker_engine_answers
    from apps.stack.services import ALL
    from apps.stack.up import port_conflicts

    ensure_env()
    settings = get_settings()
    conflicts = port_conflicts(list(ALL), settings, choose(settings))
    findings = prerequisites(building=True) + [
        Finding("Ports", not conflicts, "; ".join(conflicts) or "every port is free or shopstream's",
                "stop those processes or change the ports in .env" if conflicts else "")]
    for f in findings:
        mark = "[green]ok[/]  " if f.ok else "[red]missing[/]"
        console.print(f"{mark} {f.check}: {f.detail}" + (f" -> {f.fix}" if f.fix else ""))
    console.print(f"docker engine: {'answers' if docker_engine_answers() else 'none (native runtime)'}")
    if not all(f.ok for f in findings):
        raise Exit(code=1)


@task(help={"unit": "only the unit tests (no servers needed)", "k": "pytest -k expression",
            "cluster": "only the cluster profile's tests (`invoke up --profile cluster` first)"})
def test(c, unit=False, cluster=False, k=""):
    """Run the tests (integration tests need `invoke up` first)."""
    target = ("tests/unit" if unit else "tests/cluster" if cluster
              else "tests/unit tests/integration")
    c.run(f"{sys.executable} -m pytest {target} {'-k ' + repr(k) if k else ''}", pty=False)


@task(help={
    "rate": "purchases per second (each comes with its session's events)",
    "duration": "seconds to run; 0 runs until Ctrl-C",
    "seed": "the same seed sends the same records",
    "users": "size of the user base",
    "products": "size of the product catalogue",
    "sessions": "sessions in flight at once (default: the generator's); raise it for high rates",
})
def generate(c, rate=5, duration=0.0, seed=None, users=None, products=None, sessions=None):
    """Send realistic Faker traffic to the API every second, with a live counter."""
    from apps.generator.run import DEFAULT_PRODUCTS, DEFAULT_USERS, run
    from apps.generator.sender import SESSIONS_IN_FLIGHT

    try:
        summary = run(int(rate), float(duration) or None, None if seed is None else int(seed),
                      int(users or DEFAULT_USERS), int(products or DEFAULT_PRODUCTS),
                      console=console, sessions=int(sessions or SESSIONS_IN_FLIGHT))
    except ValueError as exc:
        raise Exit(f"invoke generate: {exc}", code=2) from None
    if summary.failed:
        raise Exit(code=1)


@task(name="analyze", help={
    "as_of": "the end of the top customers' hour, ISO 8601 (default: now, UTC)",
    "lake": "the purchases' folder to read (default: the pipeline's, s3a://<S3_BUCKET>/raw/)",
    "schema": "the PostgreSQL schema whose four tables are replaced (default: public)",
})
def analyze_(c, as_of=None, lake=None, schema=None):
    """Run the analysis notebooks headless: results to PostgreSQL, notebooks, charts and an
    HTML report under reports/, headline answers printed."""
    from apps.analysis.run import analyze, print_analysis
    from apps.analysis.store import DEFAULT_SCHEMA

    with explained():
        print_analysis(analyze(as_of, lake, schema or DEFAULT_SCHEMA), console)


@task(name="sql", help={"name": "a query of sql/, e.g. top-repeat"})
def sql_(c, name):
    """Run sql/NAME.sql against PostgreSQL and print the table (`invoke sql top-repeat`)."""
    from apps.analysis.run import sql

    with explained():
        sql(name, console)


@task
def lab(c):
    """Open jupyter lab on 127.0.0.1:8888 with the project's kernel (notebooks/)."""
    import subprocess

    from apps.analysis.run import lab_command

    with explained():
        command = lab_command()
    subprocess.run(command, check=False)


@task(help={
    "closed": "only periods nothing was added to for 30 minutes (what the hourly DAG does)",
    "root": "a lake prefix ending in '/', e.g. tests/maint-1/ (default: the pipeline's lake)",
})
def compact(c, closed=False, root=""):
    """Compact the purchase lake: every period with more than one file becomes a few large
    files (one commit each, safe beside the running stream), then files replaced more than
    the grace period ago leave the store."""
    import argparse

    from apps.lake.maintenance import lake_root, maintain_lake
    from apps.settings import get_settings

    try:
        root = lake_root(root)
    except argparse.ArgumentTypeError as exc:
        raise Exit(f"--root {exc}", code=2) from None
    from deltalake.exceptions import DeltaError

    with explained():
        try:
            maintain_lake(get_settings(), closed, root,
                          say=lambda line: console.print(line, markup=False, highlight=False))
        except DeltaError as exc:  # the store failing midway: what is committed stays
            raise Exit(f"invoke compact: {exc}", code=1) from None


def _prove(seconds, rate, chaos: bool) -> None:
    from apps.e2e.run import prove
    from apps.settings import get_settings

    if float(seconds) <= 0 or int(rate) < 1:
        raise Exit(f"--seconds must be positive and --rate at least 1: {seconds}, {rate}", code=2)
    with explained():
        try:
            ok = prove(get_settings(), float(seconds), int(rate), console, chaos=chaos)
        except TimeoutError as exc:  # a stage that never caught up: say which, no traceback
            console.print(f"[red]error:[/] {escape(str(exc))}", highlight=False)
            raise Exit(code=1) from None
    if not ok:
        raise Exit(code=1)


@task(help={"seconds": "seconds of traffic", "rate": "purchases per second"})
def e2e(c, seconds=60, rate=5):
    """On the running stack: traffic with a fresh seed, the DAG, the stream, the analysis,
    then one table reconciling every accepted record with each store (exit 1 on a mismatch)."""
    _prove(seconds, rate, chaos=False)


@task(help={"seconds": "seconds of traffic", "rate": "purchases per second"})
def chaos(c, seconds=240, rate=5):
    """`invoke e2e` while Kafka restarts, the Spark job is killed -9, MongoDB stops through a
    DAG run and the API restarts; prints the timeline and the table."""
    _prove(seconds, rate, chaos=True)


@task(help={"what": "ingest, dag, stream, analyze or soak; all: the suite and its report",
            "minutes": "soak only: how long to hold the load (default 10)",
            "backlog": "dag only: HOURS of default traffic waiting, drained run after run",
            "hours": "lake only: comma-separated hours of the stream's output (default 2,6)"})
def bench(c, what, minutes=10.0, backlog=None, hours="2,6"):
    """Measure a part of shopstream side by side with a reference, in one run:
    `invoke bench ingest`; `invoke bench all` runs ingest, dag, stream and analyze and writes
    one JSON and one Markdown report under reports/; `invoke bench soak --minutes 10`;
    `invoke bench dag --backlog 24` drains a day of traffic run after run;
    `invoke bench lake --hours 2,6`: the stream's small files, compacted, and one file.
    (Invoke has no optional positional arguments, so the suite is named: `all`.)"""
    from apps.bench import suite

    if what == "all":
        as_json, as_md, errors = suite.run_suite(console)
        console.print(f"report: {as_md} and {as_json}")
        if errors:
            raise Exit(f"benchmarks that failed: {', '.join(errors)}", code=1)
        return
    if what not in suite.KNOWN:
        raise Exit(f"unknown benchmark {what!r}; known: {', '.join(suite.KNOWN)}", code=2)
    with explained():
        if what == "dag" and backlog is not None:
            as_json, as_md = suite.run_separate("dag-backlog", console, hours=float(backlog))
            console.print(f"report: {as_md} and {as_json}")
        elif what == "lake":
            sizes = tuple(float(h) for h in hours.split(","))
            as_json, as_md = suite.run_separate("lake", console, hours=sizes)
            console.print(f"report: {as_md} and {as_json}")
        elif what in suite.SEPARATE:
            as_json, as_md = suite.run_separate(what, console, minutes=float(minutes))
            console.print(f"report: {as_md} and {as_json}")
        else:
            suite.run_one(what, console)


@task(help={"cases": "about how many cases (default 2000)", "seed": "default: a fresh one"})
def fuzz(c, cases=2000, seed=None):
    """schemathesis against the API's own OpenAPI document, on an API and topics of its own;
    then every record that reached the topics checked against the contract (exit 1 if not)."""
    import random
    import tempfile
    from pathlib import Path

    from apps.fuzz.campaign import fuzz as campaign
    from apps.settings import get_settings

    seed = random.SystemRandom().randrange(2**31) if seed is None else int(seed)
    log_dir = Path(tempfile.mkdtemp(prefix="shopstream-fuzz-"))
    with explained():
        summary = campaign(get_settings(), int(cases), seed, log_dir)
    for line in summary.lines():
        console.print(line, markup=False, highlight=False)
    console.print(f"API log: {summary.api_log}")
    if not summary.ok:
        raise Exit(code=1)
