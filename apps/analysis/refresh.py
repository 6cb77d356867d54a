"""The analysis tables kept fresh: what the DAG `analysis_refresh` runs on its schedule.

    python -m apps.analysis.refresh [--schema S] [--lake s3a://bucket/prefix/raw/] [--as-of T]

The three lake-wide tables change only when the lake does: a refresh that finds the raw
table at the version the last refresh read skips them. `top_customers_last_hour` is
recomputed every time, since its hour moves even when the lake does not. Each refresh
records the snapshot it read with the tables it wrote, in one PostgreSQL transaction.
Through the warm Spark when it answers (apps/spark_session.analysis_session).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import dataclass
from datetime import UTC, datetime

from apps.analysis import analyses, store
from apps.analysis.lake import AnalysisError, check_store, lake_url, read_lake
from apps.analysis.hours import parse_as_of
from apps.analysis.notebook import SHUFFLE_PARTITIONS
from apps.settings import Settings, get_settings

log = logging.getLogger(__name__)


def lake_unchanged(last: store.Refresh | None, url: str, version: int | None) -> bool:
    """The last refresh read this very version of this lake."""
    return (last is not None and last.lake_url == url and version is not None
            and last.lake_version == version)


def tables_to_compute(last: store.Refresh | None, url: str, version: int | None) -> list[str]:
    """Every table, unless the lake is unchanged: then only the hourly one."""
    return [analyses.HOURLY] if lake_unchanged(last, url, version) else list(analyses.RESULTS)


@dataclass(frozen=True)
class Outcome:
    tables: list[str]
    lake_version: int | None
    orders: int
    seconds: float
    engine: str

    def describe(self) -> str:
        skipped = [t for t in analyses.RESULTS if t not in self.tables]
        return (f"refreshed {', '.join(self.tables)} from version {self.lake_version} of the "
                f"lake ({self.orders:,} orders) in {self.seconds:.1f} s on {self.engine}"
                + (f"; skipped {', '.join(skipped)}: the lake has not changed" if skipped
                   else ""))


def refresh(settings: Settings, schema: str = store.DEFAULT_SCHEMA, lake: str | None = None,
            as_of: datetime | None = None) -> Outcome:
    from apps.spark_session import analysis_session, end_session, engine_of

    started = time.monotonic()
    url = lake or lake_url(settings)
    if url.startswith(("s3a://", "s3://")):
        check_store(settings, url)
    conn = store.connect(settings)
    try:
        last = store.last_refresh(conn, schema)
        spark = analysis_session(settings, "shopstream-refresh",
                                 {"spark.sql.shuffle.partitions": SHUFFLE_PARTITIONS},
                                 {"spark.log.level": "ERROR"})
        try:
            read = read_lake(spark, url, settings)  # the version read is the one recorded
            tables = tables_to_compute(last, url, read.version)
            moment, computed_at = as_of or datetime.now(UTC), datetime.now(UTC)
            if lake_unchanged(last, url, read.version):
                # One analysis, one pass: nothing stored, and the orders are the ones the
                # last refresh counted in this very version.
                deduped, orders = analyses.analysed_orders(read.purchases), last.orders
            else:
                deduped = analyses.stored_orders(read.purchases)
                orders = deduped.count()
            results = {t: store.frame_rows(analyses.RESULTS[t](deduped, moment), computed_at)
                       for t in tables}
            store.replace_tables(conn, results, schema, store.Refresh(
                computed_at, moment, url, read.version, len(read.files), orders, tables))
            engine = engine_of(spark)["engine"]
        finally:
            end_session(spark)
    finally:
        conn.close()
    return Outcome(tables, read.version, orders, time.monotonic() - started, engine)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="refresh the analysis tables in PostgreSQL")
    parser.add_argument("--schema", default=store.DEFAULT_SCHEMA)
    parser.add_argument("--lake", default=None, help="the raw table's URL (default: the "
                                                     "pipeline's, s3a://<bucket>/raw/)")
    parser.add_argument("--as-of", default=None,
                        help="ISO 8601 end of the customers' hour (default: now)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s",
                        stream=sys.stdout)
    try:
        as_of = parse_as_of(args.as_of) if args.as_of else None
        log.info("%s", refresh(get_settings(), args.schema, args.lake, as_of).describe())
    except AnalysisError as exc:
        log.error("analysis refresh failed: %s", exc)
        sys.exit(1)


if __name__ == "__main__":
    main()
