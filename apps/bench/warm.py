"""`invoke bench analyze`'s warm-Spark part: the four analyses through the stack's Spark
Connect server, through a fresh local Spark (a process of its own, JVM start included,
as a notebook kernel paid for it before the server), `invoke analyze` end to end on a
small lake beside a fresh DuckDB pass, and the server's memory over many analyses.

Every run reads the lake from S3 again: each analysis is a new session that releases its
cache at its end, and the files are read by name (no listing cache).

    python -m apps.bench.warm fresh <s3a lake URL>   one fresh local run, its seconds as JSON
"""

from __future__ import annotations

import json
import subprocess
import sys
import time

from apps.settings import REPO_ROOT, Settings, get_settings

FRESH_DUCKDB = """
import json, sys, time
started = time.perf_counter()
from datetime import datetime
from apps.analysis import reference
from apps.lake import tables
from apps.lake.tables import RAW_TABLE
from apps.settings import get_settings
reference.analyse(tables.dataset(get_settings(), RAW_TABLE.under(sys.argv[1])),
                  datetime.fromisoformat(sys.argv[2]))
print(json.dumps({"seconds": time.perf_counter() - started}))
"""


def warm_four(settings: Settings, url: str, four) -> float:
    """Seconds for the four analyses in a new session on the warm server."""
    from apps.spark_session import analysis_session, end_session, engine_of, warm_server_answers

    if not warm_server_answers(settings):
        raise RuntimeError(f"the warm Spark at {settings.spark_connect_url} does not answer: "
                           "`invoke up` starts it")
    started = time.perf_counter()
    spark = analysis_session(settings, "shopstream-bench-warm",
                             {"spark.sql.shuffle.partitions": "4"})
    try:
        assert engine_of(spark)["engine"] == "spark-connect"
        four(spark, url)
    finally:
        end_session(spark)
    return time.perf_counter() - started


def fresh_local_four(url: str) -> float:
    """Seconds for a new process to start a local Spark and run the four analyses."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "apps.bench.warm", "fresh", url],
                          cwd=REPO_ROOT, capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"the fresh local run failed: {proc.stderr[-2000:]}")
    return time.perf_counter() - started


def fresh_duckdb(prefix: str, as_of: str) -> float:
    """Seconds for a new interpreter to read the lake from S3 and run the four in DuckDB."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", FRESH_DUCKDB, prefix, as_of], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"the DuckDB pass failed: {proc.stderr[-2000:]}")
    return time.perf_counter() - started


def invoke_analyze(url: str, schema: str, as_of: str) -> float:
    """Seconds for `invoke analyze` end to end (both notebooks, the report), a process of
    its own, as a user runs it."""
    started = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "invoke", "analyze", "--as-of", as_of,
                           "--lake", url, "--schema", schema], cwd=REPO_ROOT,
                          capture_output=True, text=True, timeout=3600)
    if proc.returncode != 0:
        raise RuntimeError(f"invoke analyze failed: {proc.stdout[-2000:]}{proc.stderr[-2000:]}")
    return time.perf_counter() - started


def server_memory_mib(settings: Settings) -> float:
    """PSS of the server's process tree."""
    from apps.stack.runtime import choose
    from apps.stack.services.spark_connect import PROGRAM
    from apps.stack.status import tree_memory_mib

    info = choose(settings).supervisor.info().get(PROGRAM)
    return tree_memory_mib(info["pid"]) if info and info["pid"] else 0.0


def stack_memory_mib(settings: Settings) -> float:
    """PSS of every supervised process, as `invoke status` sums it."""
    from apps.pipeline_status.collect import report
    from apps.stack.runtime import choose

    return sum(row.memory_mib for row in report(settings, choose(settings)).services)


def fresh_main(url: str) -> None:
    from apps.bench.analyze import spark_four
    from apps.spark_session import spark_session

    settings = get_settings()
    spark = spark_session(settings, "shopstream-bench-fresh",
                          **{"spark.sql.shuffle.partitions": "4", "spark.log.level": "ERROR"})
    started = time.perf_counter()
    spark_four(spark, url)
    print(json.dumps({"seconds": time.perf_counter() - started}))
    spark.stop()


if __name__ == "__main__":
    if sys.argv[1:2] != ["fresh"] or len(sys.argv) != 3:
        sys.exit("usage: python -m apps.bench.warm fresh <s3a lake URL>")
    fresh_main(sys.argv[2])
