"""Pure: the readings (readings.py) -> one Stage per step of the pipeline, each with its
health, one-line reason and figures, each figure stamped with when its stage recorded it.
"""

from __future__ import annotations

from datetime import datetime

from apps.lake.figures import describe as describe_table, newest
from apps.pipeline_status import rules
from apps.pipeline_status.readings import Reading, Sources
from apps.pipeline_status.schema import (
    DOWN, FAILING, HEALTHY, SKIPPED, STALE, UNKNOWN, Figure, Stage,
)
from apps.purchase_stream.progress import behind
from apps.user_events.counts import RunRange, records_in

# The service each stage runs on: its health decides first (a stage of a service that is
# down is down, whatever it recorded before).
STAGE_SERVICE = {"generator": "generator", "api": "api", "kafka": "kafka",
                 "user_events_dag": "airflow", "mongo": "mongo", "stream": "stream",
                 "lake": "s3", "analysis": "postgres"}


def parse_metrics(text: str) -> dict[str, list[tuple[dict[str, str], float]]]:
    """Prometheus' text format -> {metric name: [(labels, value)]} (no escapes in ours)."""
    found: dict[str, list[tuple[dict[str, str], float]]] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        head, _, value = line.rpartition(" ")
        name, _, labels = head.partition("{")
        pairs = (p.split("=", 1) for p in labels.rstrip("}").split(",") if "=" in p)
        found.setdefault(name, []).append(({k: v.strip('"') for k, v in pairs}, float(value)))
    return found


def seconds_since(then: datetime | None, now: datetime) -> float | None:
    return None if then is None else max(0.0, (now - then).total_seconds())


def ago(then: datetime | None, now: datetime) -> str:
    seconds = seconds_since(then, now)
    if seconds is None:
        return "never"
    if seconds < 120:
        return f"{seconds:.0f} s ago"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min ago"
    return f"{seconds / 3600:.0f} h ago"


def parse_time(value) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.fromisoformat(value.replace("Z", "+00:00"))


class Context:
    """What every builder needs: the readings, the services' rows, the time, the rules."""

    def __init__(self, readings: dict[str, Reading], services: dict, now: datetime,
                 thresholds: rules.Thresholds, sources: Sources):
        self.readings, self.services, self.now = readings, services, now
        self.thresholds, self.sources = thresholds, sources

    def value(self, name: str):
        reading = self.readings.get(name)
        return reading.value if reading and reading.error is None else None

    def error(self, name: str) -> str | None:
        reading = self.readings.get(name)
        return "not read" if reading is None else reading.error

    def service_verdict(self, stage: str) -> tuple[str, str] | None:
        """(health, reason) when the stage's service is down or skipped, else None."""
        row = self.services.get(STAGE_SERVICE.get(stage, ""))
        if row is None or row.healthy:
            return None
        return (SKIPPED, "left stopped (`invoke up --skip`)") if row.skipped else \
            (DOWN, row.reason)


def stage(ctx: Context, name: str, figures: dict[str, Figure], summary: str,
          problem: tuple[str, str] | None = None, needs: tuple[str, ...] = ()) -> Stage:
    """The stage's health: its service's verdict first, then a reading it needs that failed,
    then its own problem (stale, failing), else healthy."""
    verdict = ctx.service_verdict(name)
    if verdict is None:
        failed = [f"{n}: {ctx.error(n)}" for n in needs if ctx.error(n)]
        verdict = (UNKNOWN, f"could not read {'; '.join(failed)}") if failed else problem
    health, reason = verdict or (HEALTHY, "")
    return Stage(name, health, reason, figures, summary)


def generator(ctx: Context) -> Stage:
    rec = ctx.value("generator")
    if not rec:
        return stage(ctx, "generator", {}, "nothing recorded yet", needs=("generator",))
    at = parse_time(rec["at"])
    figures = {k: Figure(rec[k], at) for k in
               ("sent_records_per_second", "accepted_records_per_second", "sent", "accepted",
                "retried", "failed")}
    return stage(ctx, "generator", figures,
                 f"{rec['sent_records_per_second']:.1f} records/s sent, "
                 f"{rec['failed']:,} failed ({ago(at, ctx.now)})")


def api(ctx: Context) -> Stage:
    text = ctx.value("api")
    if text is None:
        return stage(ctx, "api", {}, "-", needs=("api",))
    metrics = parse_metrics(text)
    by_status: dict[str, int] = {}
    for labels, value in metrics.get("shopstream_api_requests_total", []):
        by_status[labels["status"]] = by_status.get(labels["status"], 0) + int(value)
    accepted = {labels["topic"]: int(value)
                for labels, value in metrics.get("shopstream_api_records_accepted_total", [])}
    # Its rate is the generator's `accepted_records_per_second` (the API keeps counters
    # only: a rate on the request path would cost every request).
    figures = {"requests_by_status": Figure(by_status), "records_accepted": Figure(accepted)}
    counts = " · ".join(f"{s}: {by_status.get(s, 0):,}" for s in ("202", "422", "503"))
    return stage(ctx, "api", figures, f"requests {counts}")


def kafka(ctx: Context) -> Stage:
    offsets = ctx.value("kafka")
    if offsets is None:
        return stage(ctx, "kafka", {}, "-", needs=("kafka",))
    ends = offsets["ends"]
    records = {topic: sum(parts.values()) for topic, parts in ends.items()}
    figures = {"end_offsets": Figure({t: {str(p): o for p, o in parts.items()}
                                      for t, parts in ends.items()}),
               "records": Figure(records)}
    return stage(ctx, "kafka", figures,
                 " · ".join(f"{t} {n:,} records" for t, n in records.items()))


def dag_lag(ctx: Context) -> int | None:
    """Records of the events topic past the DAG group's committed offsets, now."""
    offsets = ctx.value("kafka")
    if offsets is None:
        return None
    ends = offsets["ends"].get(ctx.sources.user_events_topic, {})
    return sum(end - offsets["committed"].get(p, 0) for p, end in ends.items())


def user_events_dag(ctx: Context) -> Stage:
    airflow = ctx.value("airflow") or {}
    progress = (ctx.value("mongo") or {}).get("progress") or {}
    run, dag = airflow.get("last_run"), airflow.get("dag") or {}
    lag = dag_lag(ctx)
    committed_at = progress.get("CommittedAt")
    since_commit = seconds_since(committed_at, ctx.now)
    oldest = progress.get("WaitingSince") or progress.get("LandedAt")
    figures = {
        "paused": Figure(dag.get("is_paused")),
        "last_run_state": Figure(run and run["state"], parse_time(
            run and (run.get("end_date") or run.get("start_date") or run.get("queued_at")))),
        "next_run_at": Figure(dag.get("next_dagrun_run_after")),
        "last_commit_at": Figure(committed_at and committed_at.isoformat(), committed_at),
        "lag_records": Figure(lag),
        # the oldest waiting record came after the last run planned (or was left by its cap)
        "lag_seconds": Figure(round(seconds_since(oldest, ctx.now), 1) if lag and oldest
                              else (0.0 if lag == 0 else None)),
        "waiting_past_cap": Figure(progress.get("WaitingRecords"), progress.get("LandedAt")),
    }
    stale = rules.dag_stale(lag, since_commit, ctx.thresholds)
    problem = ((STALE, stale + ("; the DAG is paused" if dag.get("is_paused") else ""))
               if stale else (FAILING, "its last run failed")
               if run and run["state"] == "failed" else None)
    line = (f"last run {run['state']} {ago(figures['last_run_state'].at, ctx.now)}" if run
            else "no run yet")
    line += f", last commit {ago(committed_at, ctx.now)}"
    line += "; lag unknown" if lag is None else f"; lag {lag:,} records"
    if dag.get("is_paused"):
        line += "; PAUSED"
    return stage(ctx, "user_events_dag", figures, line, problem, needs=("airflow", "kafka"))


def mongo(ctx: Context) -> Stage:
    records = ctx.value("mongo")
    if records is None:
        return stage(ctx, "mongo", {}, "-", needs=("mongo",))
    progress = records.get("progress") or {}
    landed_at = progress.get("LandedAt")
    landed = records_in(RunRange.from_json(progress["Landed"]).ranges) \
        if progress.get("Landed") else None
    figures = {"last_landed_records": Figure(landed, landed_at),
               "dead_letters": Figure(progress.get("DeadLetters"), landed_at)}
    line = (f"{landed:,} events landed {ago(landed_at, ctx.now)}" if landed is not None
            else "no run recorded yet")
    return stage(ctx, "mongo", figures, line)


def stream(ctx: Context) -> Stage:
    batch = ctx.value("stream")
    if not batch:
        return stage(ctx, "stream", {}, "no batch recorded yet", needs=("stream",))
    at = parse_time(batch["timestamp"])
    offsets = ctx.value("kafka")
    lag = None if offsets is None else behind(batch["end_offsets"], {
        (ctx.sources.purchases_topic, p): end
        for p, end in offsets["ends"].get(ctx.sources.purchases_topic, {}).items()})
    since = seconds_since(at, ctx.now)
    figures = {
        "last_batch_id": Figure(batch["batch_id"], at),
        "last_batch_rows": Figure(batch["input_rows"], at),
        "input_rows_per_second": Figure(batch["input_rows_per_second"], at),
        "processed_rows_per_second": Figure(batch["processed_rows_per_second"], at),
        "behind_records": Figure(lag),
        "behind_seconds": Figure(round(since, 1) if lag else (0.0 if lag == 0 else None)),
    }
    stale = rules.stream_stale(lag, since, ctx.thresholds)
    line = (f"batch {batch['batch_id']} {ago(at, ctx.now)}: {batch['input_rows']:,} rows, "
            f"{batch['input_rows_per_second']:.1f} rows/s in; "
            + ("lag unknown" if lag is None else f"{lag:,} behind"))
    return stage(ctx, "stream", figures, line, (STALE, stale) if stale else None,
                 needs=("kafka",))


def lake(ctx: Context) -> Stage:
    recorded = ctx.value("lake_stream") or {}
    runs = ctx.value("lake_maintenance") or {}
    figures, lines = {}, []
    for area in ("raw", "quarantine"):
        run = runs.get(area)
        table = newest(recorded.get(area), run.lake if run else None)
        lines.append(describe_table(area, table, run, ctx.now))
        if table:
            for key in ("version", "files", "bytes", "oldest_uncompacted"):
                figures[f"{area}_{key}"] = Figure(getattr(table, key), table.recorded_at)
        if run:
            figures[f"{area}_last_maintenance"] = Figure(
                {k: run.run.get(k) for k in ("periods_compacted", "files_vacuumed")},
                run.finished_at)
    return stage(ctx, "lake", figures, " | ".join(lines), needs=("lake_maintenance",))


def analysis(ctx: Context) -> Stage:
    refresh = ctx.value("analysis")
    lake_version = ctx.value("lake_stream") and ctx.value("lake_stream").get("raw")
    if refresh is None:
        return stage(ctx, "analysis", {}, "no refresh recorded yet", needs=("analysis",))
    at = refresh.computed_at
    figures = {"last_refresh_lake_version": Figure(refresh.lake_version, at),
               "last_refresh_orders": Figure(refresh.orders, at),
               "last_refresh_lake_files": Figure(refresh.lake_files, at)}
    if lake_version is not None and refresh.lake_version is not None:
        figures["lake_versions_since"] = Figure(lake_version.version - refresh.lake_version)
    return stage(ctx, "analysis", figures,
                 f"refreshed {ago(at, ctx.now)} from lake v{refresh.lake_version}: "
                 f"{refresh.orders:,} orders")


def losses(ctx: Context) -> Stage:
    records = ctx.value("mongo") or {}
    open_losses = records.get("open_losses")
    progress = records.get("progress") or {}
    quarantine = (ctx.value("lake_stream") or {}).get("quarantine")
    figures = {
        "open_losses": Figure(None if open_losses is None else len(open_losses)),
        "records_lost": Figure(None if open_losses is None
                               else sum(d["Records"] for d in open_losses)),
        "dead_letters": Figure(progress.get("DeadLetters"), progress.get("LandedAt")),
        "quarantine_files": Figure(quarantine and quarantine.files,
                                   quarantine and quarantine.recorded_at),
    }
    problem = None
    if open_losses:
        problem = (FAILING, f"{figures['records_lost'].value:,} records LOST in "
                            f"{len(open_losses)} ranges (`invoke losses`)")
    parts = ["no open loss" if not open_losses else problem[1]]
    if progress.get("DeadLetters") is not None:
        parts.append(f"{progress['DeadLetters']:,} dead letters")
    if quarantine is not None:
        parts.append(f"quarantine {quarantine.files:,} files")
    return stage(ctx, "losses", figures, "; ".join(parts), problem, needs=("mongo",))


BUILDERS = (generator, api, kafka, user_events_dag, mongo, stream, lake, analysis, losses)


def build(readings: dict[str, Reading], services: list, now: datetime,
          thresholds: rules.Thresholds = rules.Thresholds(),
          sources: Sources = Sources()) -> list[Stage]:
    ctx = Context(readings, {s.service: s for s in services}, now, thresholds, sources)
    return [builder(ctx) for builder in BUILDERS]
