"""`invoke bench lake [--hours H,H]`: what the stream's small files cost the analyses, and
what maintenance gives back, on a lake prefix of the benchmark's own (deleted afterwards).

For each size (hours of the stream's default output: a batch of about 50 purchases every
10 s, 360 batches an hour), in one run:
    1. the batches go through the stream's own batch writer (`BatchWriter.write`, Arrow in,
       one Delta commit per batch), purchases spread over the hours' dates;
    2. the four analyses in Spark (as `invoke bench analyze` runs them) on that table;
    3. `invoke compact`'s maintenance with its defaults, timed (wall and CPU);
    4. the four analyses again, and on the same rows written as one commit (the reference),
       alternately, twice each, the best time of each;
    5. an hour of new batches, then maintenance of what they added (what the scheduled
       run does once their period is quiet), its CPU against an hour of one core.
Goals: after maintenance <= 1.1x the reference; a day's backlog compacts in <= 60 s; an
hour's scheduled maintenance <= 5% of an hour of one core. A week and a month are
extrapolated from the sizes measured.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import numpy as np
import pyarrow as pa
from rich.console import Console
from rich.table import Table

from apps.bench.analyze import AS_OF, purchases, spark_four
from apps.bench.report import Figure
from apps.console import make_console
from apps.lake import maintenance, tables
from apps.lake.marks import Marks
from apps.lake.tables import RAW_TABLE
from apps.purchase_stream.layout import ARROW_OF, VALIDATED_ARROW
from apps.purchase_stream.store import remove_prefix, s3_store, s3a_url
from apps.purchase_stream.writer import BatchWriter
from apps.settings import get_settings

BATCHES_PER_HOUR = 360
PURCHASES_PER_BATCH = 50
TOPIC_ID = "bench-lake"
SIZES_HOURS = (2.0, 6.0)


def validated_batches(hours: float, seed: int = 11) -> list[pa.Table]:
    """The stream's batches as its writer receives them (the validated shape), purchases
    spread over the `hours` before AS_OF, in Kafka order."""
    batches = int(hours * BATCHES_PER_HOUR)
    rows = purchases(batches * PURCHASES_PER_BATCH, seed=seed)
    rows = rows.slice(0, batches * PURCHASES_PER_BATCH)  # no retried copies: one per record
    span = np.linspace(-hours * 3600, 0, rows.num_rows).astype(np.int64) * 1_000_000
    stamps = pa.array(int(AS_OF.timestamp() * 1e6) + span, pa.int64()) \
        .cast(pa.timestamp("us", tz="UTC"))
    rows = rows.set_column(rows.schema.get_field_index("TimeStamp"), "TimeStamp", stamps)
    rows = rows.set_column(rows.schema.get_field_index("kafka_timestamp"), "kafka_timestamp",
                           stamps)
    n = rows.num_rows
    validated = rows.append_column("value", pa.nulls(n, pa.binary())) \
        .append_column("reason", pa.nulls(n, pa.string()))
    validated = validated.select(VALIDATED_ARROW.names).cast(VALIDATED_ARROW)
    return [validated.slice(i * PURCHASES_PER_BATCH, PURCHASES_PER_BATCH)
            for i in range(batches)]


def timed(fn, *args, **kwargs):
    wall, cpu = time.perf_counter(), time.process_time()
    result = fn(*args, **kwargs)
    return result, time.perf_counter() - wall, time.process_time() - cpu


def alternating(spark, url: str, reference_url: str, rounds: int = 2) -> tuple[float, float]:
    """The four analyses on each table in turn, `rounds` times; each one's best time (the
    JVM warms up as it goes: a fixed order would favour whichever runs later)."""
    times: dict[str, list[float]] = {url: [], reference_url: []}
    for _ in range(rounds):
        for target in (url, reference_url):
            times[target].append(timed(spark_four, spark, target)[1])
    return min(times[url]), min(times[reference_url])


@dataclass(frozen=True)
class Size:
    hours: float
    batches: int
    write_s: float
    files_before: int
    analyses_before_s: float
    compact_s: float
    compact_cpu_s: float
    files_after: int
    analyses_after_s: float
    reference_s: float
    hour_maintenance_cpu_s: float


def measure(settings, spark, hours: float, console: Console) -> Size:
    prefix = f"bench/lake-{uuid.uuid4().hex[:8]}/"
    lake, reference = RAW_TABLE.under(prefix), RAW_TABLE.under(f"{prefix}reference/")
    url = s3a_url(settings, f"{prefix}raw/")
    marks = {area: Marks("bench", TOPIC_ID) for area in ("raw", "quarantine")}
    appender = tables.Appender(settings)
    writer = BatchWriter(lambda t, files, m: appender.add_files(t, files, ARROW_OF[t.area], m),
                         s3_store(settings), prefix, marks, TOPIC_ID)
    try:
        batches = validated_batches(hours)
        _, write_s, _ = timed(lambda: [writer.write(b) for b in batches])
        before = len(tables.snapshot(settings, lake).files)
        console.print(f"{hours:g} h: {len(batches):,} batches in {before:,} files, "
                      f"written in {write_s:.0f} s")
        _, analyses_before_s, _ = timed(spark_four, spark, url)
        _, compact_s, compact_cpu_s = timed(maintenance.maintain, settings, lake, False,
                                            say=lambda line: None)
        after = len(tables.snapshot(settings, lake).files)
        everything = pa.concat_tables(batches)
        one = everything.append_column("kafka_topic_id",
                                       pa.array([TOPIC_ID] * everything.num_rows, pa.string()))
        tables.append(settings, reference, one.drop_columns(["value", "reason"]),
                      Marks("bench", TOPIC_ID).after(one))
        analyses_after_s, reference_s = alternating(
            spark, url, s3a_url(settings, f"{prefix}reference/raw/"))
        hour = validated_batches(1.0, seed=12)
        for batch in hour:
            at = batch.schema.get_field_index("kafka_offset")  # later offsets: new records
            shifted = batch.set_column(at, batch.schema.field(at), pa.array(
                np.asarray(batch["kafka_offset"]) + 10**9, pa.int64()))
            writer.write(shifted)
        _, _, hour_cpu_s = timed(maintenance.maintain, settings, lake, False,
                                 say=lambda line: None)
        size = Size(hours, len(batches), write_s, before, analyses_before_s, compact_s,
                    compact_cpu_s, after, analyses_after_s, reference_s, hour_cpu_s)
        console.print(f"  analyses {analyses_before_s:.1f} s -> {analyses_after_s:.1f} s after "
                      f"compaction ({compact_s:.1f} s, {before:,} -> {after:,} files); "
                      f"one file {reference_s:.1f} s; an hour's maintenance "
                      f"{hour_cpu_s:.1f} s of CPU")
        return size
    finally:
        remove_prefix(settings, prefix)


def per_day(sizes: list[Size], value) -> tuple[float, float]:
    """(intercept, per-day slope) of `value(size)` against hours, from the two extremes."""
    first, last = sizes[0], sizes[-1]
    slope = (value(last) - value(first)) / (last.hours - first.hours) * 24
    return value(first) - slope * first.hours / 24, slope


def run(console: Console | None = None, hours: tuple[float, ...] = SIZES_HOURS
        ) -> list[Figure]:
    from apps.analysis.notebook import SHUFFLE_PARTITIONS
    from apps.spark_session import spark_session

    console = console or make_console()
    settings = get_settings()
    spark = spark_session(settings, "shopstream-bench-lake", **{
        "spark.sql.shuffle.partitions": SHUFFLE_PARTITIONS, "spark.log.level": "ERROR",
        "spark.driver.memory": "2g"})
    spark_four(spark, s3a_url(settings, "bench/no-such-table/raw/"))  # JVM and S3A warm
    sizes = [measure(settings, spark, h, console) for h in hours]
    spark.stop()
    out = Table(title="the lake: analyses over the stream's small files, compacted, one file")
    for column in ("hours", "files", "analyses s", "compact s", "files after",
                   "analyses after s", "one file s", "after / one file", "hour's upkeep CPU"):
        out.add_column(column, justify="right")
    for s in sizes:
        out.add_row(f"{s.hours:g}", f"{s.files_before:,}", f"{s.analyses_before_s:.1f}",
                    f"{s.compact_s:.1f}", f"{s.files_after:,}", f"{s.analyses_after_s:.1f}",
                    f"{s.reference_s:.1f}", f"{s.analyses_after_s / s.reference_s:.2f}x",
                    f"{s.hour_maintenance_cpu_s / 3600:.2%}")
    console.print(out)
    figures = []
    for s in sizes:
        figures += [
            Figure("lake", f"analyses after compaction s, {s.hours:g} h", s.analyses_after_s,
                   "s", "same rows in one commit s", s.reference_s, "<= 1.1"),
            Figure("lake", f"analyses before compaction s, {s.hours:g} h", s.analyses_before_s,
                   "s", "same rows in one commit s", s.reference_s),
            Figure("lake", f"compaction s, {s.hours:g} h backlog", s.compact_s, "s"),
            Figure("lake", f"an hour's scheduled maintenance, CPU s ({s.hours:g} h lake)",
                   s.hour_maintenance_cpu_s, "s", "an hour of one core s", 3600.0, "<= 0.05"),
        ]
    if len(sizes) > 1:
        for label, value in (("compaction s", lambda s: s.compact_s),
                             ("analyses before compaction s", lambda s: s.analyses_before_s)):
            base, slope = per_day(sizes, value)
            figures += [Figure("lake", f"{label}, a day (extrapolated)", base + slope, "s",
                               "", None, "<= 60" if label == "compaction s" else ""),
                        Figure("lake", f"{label}, a week (extrapolated)", base + 7 * slope, "s"),
                        Figure("lake", f"{label}, a month (extrapolated)", base + 30 * slope,
                               "s")]
    return figures
