"""What the two notebooks call: each of their cells is a line or two into here.

The notebooks are run by people in `jupyter lab` and headless by `invoke analyze`
(papermill), with the parameters `as_of`, `lake_url`, `target_schema` and `reports_dir`.
A run leaves its charts and `summary.json` (as_of, the exact files read, the counts) in
`reports_dir`.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

from apps.analysis import analyses, charts, queries, store
from apps.analysis.hours import hour_before, parse_as_of
from apps.analysis.lake import check_store, lake_url, read_lake
from apps.analysis.report import SUMMARY, Table, reports_folder
from apps.settings import get_settings
from apps.spark_session import engine_of

SHUFFLE_PARTITIONS = "4"  # a few small result sets: 200 tasks would be pure overhead


def image(path: Path):
    from IPython.display import Image

    return Image(filename=str(path))


class AnalysisRun:
    """One run of the analysis notebook: the lake read once, the four results kept."""

    def __init__(self, as_of: str | None, lake: str | None, target_schema: str,
                 reports_dir: str | None):
        from apps.spark_session import analysis_session

        self.settings = get_settings()
        self.as_of = parse_as_of(as_of)
        self.window = hour_before(self.as_of)
        self.url = lake or lake_url(self.settings)
        self.schema = target_schema
        self.reports = reports_folder(reports_dir)
        self.computed_at = datetime.now(UTC)
        if self.url.startswith(("s3a://", "s3://")):
            check_store(self.settings, self.url)
        self.store = store.connect(self.settings)  # fail now, not after the Spark work
        self.spark = analysis_session(self.settings, "shopstream-analysis",
                                      {"spark.sql.shuffle.partitions": SHUFFLE_PARTITIONS},
                                      {"spark.log.level": "ERROR"})
        self.lake = read_lake(self.spark, self.url, self.settings)
        self.orders = analyses.stored_orders(self.lake.purchases)
        self.order_count = self.orders.count()
        self.results: dict[str, tuple[list[str], list[tuple]]] = {}

    def summary(self) -> str:
        if self.order_count == 0:
            return f"The lake at {self.url} holds no purchases yet: every result is empty."
        return (f"{self.order_count:,} orders in {len(self.lake.files):,} Parquet files of "
                f"version {self.lake.version} of the table at {self.url}; as of "
                f"{self.as_of:%Y-%m-%d %H:%M:%S} UTC.")

    def _keep(self, table: str, frame) -> Table:
        self.results[table] = store.frame_rows(frame, self.computed_at)
        columns, rows = self.results[table]
        return Table(columns[:-1], [row[:-1] for row in rows])  # without computed_at

    def _compute(self, table: str) -> Table:
        return self._keep(table, analyses.RESULTS[table](self.orders, self.as_of))

    def top_products(self) -> Table:
        return self._compute("top_products")

    def payment_types(self) -> Table:
        return self._compute("payment_types")

    def top_customers(self) -> Table:
        return self._compute("top_customers_last_hour")

    def hour_note(self) -> str:
        hour = f"[{self.window.start:%Y-%m-%d %H:%M:%S}, {self.window.end:%H:%M:%S}) UTC"
        if not self.results.get("top_customers_last_hour", ([], []))[1]:
            return f"No orders in the hour {hour}: the table is empty."
        return f"The hour {hour}."

    def repeat_purchases(self) -> Table:
        return self._compute("repeat_purchases")

    def chart_top_products(self):
        rows = [r[:-1] for r in self.results["top_products"][1]]
        return image(charts.top_products(rows, self.reports / "top_products.png"))

    def chart_payment_types(self):
        rows = [r[:-1] for r in self.results["payment_types"][1]]
        return image(charts.payment_types(rows, self.reports / "payment_types.png"))

    def save(self) -> str:
        """All four tables replaced in one transaction; the run's summary beside the charts."""
        store.replace_tables(self.store, self.results, self.schema, store.Refresh(
            self.computed_at, self.as_of, self.url, self.lake.version, len(self.lake.files),
            self.order_count))
        counts = {table: len(rows) for table, (_, rows) in self.results.items()}
        (self.reports / SUMMARY).write_text(json.dumps({
            "as_of": self.as_of.isoformat(), "window_start": self.window.start.isoformat(),
            "window_end": self.window.end.isoformat(), "lake_url": self.url,
            "orders": self.order_count, "files": self.lake.files,
            "lake_version": self.lake.version, "counts": counts,
            "schema": self.schema, "spark": engine_of(self.spark),
        }, indent=2))
        return f"Replaced in schema {self.schema!r}: " + ", ".join(
            f"{table} ({n} rows)" for table, n in counts.items())


    def close(self) -> None:
        """Release the cached rows and the Spark session (on the warm server: its state)."""
        from apps.spark_session import end_session

        end_session(self.spark)
        self.store.close()


def top_repeat(target_schema: str, reports_dir: str | None) -> tuple[Table, object]:
    """sql/top_repeat.sql on PostgreSQL: the table and its chart."""
    conn = store.connect(get_settings())
    try:
        columns, rows = queries.run_query(conn, "top-repeat", target_schema)
    finally:
        conn.close()
    chart = charts.top_repeat(rows, reports_folder(reports_dir) / "top_repeat.png")
    return Table(columns, rows), image(chart)
