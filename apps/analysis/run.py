"""`invoke analyze`, `invoke sql NAME` and `invoke lab`: the notebooks run headless, the
results printed as tables and kept, with the charts, in one offline HTML report."""

from __future__ import annotations

import json
import os
import sys
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlsplit

from rich.console import Console
from rich.table import Table as RichTable

from apps.analysis import queries, store
from apps.analysis.lake import AnalysisError, check_store, lake_url
from apps.analysis.hours import parse_as_of
from apps.analysis.report import REPORTS, SUMMARY, Section, Table, render
from apps.settings import REPO_ROOT, Settings, get_settings

NOTEBOOKS = REPO_ROOT / "notebooks"
ANALYSIS, TOP_REPEAT = "analysis.ipynb", "top_repeat_sql.ipynb"
HEADLINE_ROWS = 10


def settings_or_explain() -> Settings:
    try:
        return get_settings()
    except FileNotFoundError as exc:
        raise AnalysisError(str(exc)) from None


@contextmanager
def stderr_to(path: Path):
    """Point this process's stderr (fd 2, which a kernel and its JVM inherit) at a file."""
    sys.stderr.flush()
    saved = os.dup(2)
    with path.open("ab") as log:
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)


@contextmanager
def kernel(log: Path):
    """One Python kernel for a run's notebooks, its own log in `log`: its start and its
    imports (Spark's client, pandas, matplotlib: seconds) are paid once per run."""
    from jupyter_client.manager import KernelManager

    with stderr_to(log):
        manager = KernelManager(kernel_name="python3")
        manager.start_kernel(cwd=str(REPO_ROOT))
        try:
            yield manager
        finally:
            manager.shutdown_kernel(now=True)


def import_papermill():
    """papermill, without the IRI grammar that jsonschema (through nbformat) compiles at
    import when rfc3987-syntax is installed, as jupyterlab's dependencies install it: 2.5 s
    of every `invoke analyze` here, for string formats no notebook's schema uses. A module
    set to None in `sys.modules` cannot be imported: jsonschema then skips those formats."""
    sys.modules.setdefault("rfc3987_syntax", None)
    import papermill

    return papermill


def execute(notebook: str, out: Path, parameters: dict, manager) -> None:
    """Run a notebook headless in the run's kernel with its parameters; a failure is one
    line."""
    papermill = import_papermill()

    try:
        papermill.execute_notebook(str(NOTEBOOKS / notebook), str(out), parameters=parameters,
                                   kernel_name="python3", km=manager, cwd=str(REPO_ROOT),
                                   progress_bar=False)
    except papermill.PapermillExecutionError as exc:
        if exc.ename == "AnalysisError":
            raise AnalysisError(exc.evalue) from None
        raise AnalysisError(f"{notebook} failed in cell {exc.exec_count}: {exc.ename}: "
                            f"{exc.evalue} (the executed notebook: {out})") from None


@dataclass(frozen=True)
class Analysis:
    folder: Path
    summary: dict
    tables: dict[str, Table]  # the four result tables and "top_repeat"
    notes: list[str]

    @property
    def report(self) -> Path:
        return self.folder / "report.html"


def notes_for(summary: dict) -> list[str]:
    notes = []
    if summary["orders"] == 0:
        notes.append(f"The lake at {summary['lake_url']} holds no purchases yet: "
                     f"every result is empty.")
    elif summary["counts"]["top_customers_last_hour"] == 0:
        notes.append(f"No orders in the hour [{summary['window_start']}, "
                     f"{summary['window_end']}): top_customers_last_hour is empty.")
    return notes


def analyze(as_of: str | None = None, lake: str | None = None,
            schema: str = store.DEFAULT_SCHEMA, reports: Path = REPORTS) -> Analysis:
    settings = settings_or_explain()
    moment = parse_as_of(as_of)
    url = lake or lake_url(settings)
    if url.startswith(("s3a://", "s3://")):
        check_store(settings, url)
    store.connect(settings).close()  # both servers answer before any kernel starts
    folder = (reports / f"analysis-{datetime.now(UTC):%Y%m%dT%H%M%S%fZ}").resolve()
    folder.mkdir(parents=True)
    with kernel(folder / "kernel.log") as manager:
        execute(ANALYSIS, folder / ANALYSIS, {"as_of": moment.isoformat(), "lake_url": url,
                                               "target_schema": schema,
                                               "reports_dir": str(folder)}, manager)
        execute(TOP_REPEAT, folder / TOP_REPEAT, {"target_schema": schema,
                                                  "reports_dir": str(folder)}, manager)
    summary = json.loads((folder / SUMMARY).read_text())
    conn = store.connect(settings)
    try:
        tables = {name: Table(*store.read_table(conn, name, schema)) for name in store.TABLES}
        tables["top_repeat"] = Table(*queries.run_query(conn, "top-repeat", schema))
    finally:
        conn.close()
    result = Analysis(folder, summary, tables, notes_for(summary))
    result.report.write_text(report_html(result))
    return result


def report_html(result: Analysis) -> str:
    s, t, f = result.summary, result.tables, result.folder
    intro = (f"As of {s['as_of']}: {s['orders']:,} orders from {len(s['files']):,} Parquet "
             f"files under {s['lake_url']}. " + " ".join(result.notes))
    top = t["top_products"]
    repeats = t["repeat_purchases"]
    return render("shopstream purchases report", intro, [
        Section("Best-selling products (top 10 by units)", "",
                Table(top.columns, top.rows[:HEADLINE_ROWS]), [f / "top_products.png"]),
        Section("Payment types", "", t["payment_types"], [f / "payment_types.png"]),
        Section("Top 10 customers of the hour",
                f"Highest-value order in [{s['window_start']}, {s['window_end']}).",
                t["top_customers_last_hour"]),
        Section("Products most purchased repeatedly (sql/top_repeat.sql)",
                "Ranked by customers who bought them in 2+ orders, then by those orders.",
                t["top_repeat"], [f / "top_repeat.png"]),
        Section("Repeat purchases", f"{len(repeats.rows):,} (customer, product) pairs "
                f"bought in 2+ distinct orders.", repeats),
    ])


def rich_table(title: str, table: Table, limit: int = HEADLINE_ROWS) -> RichTable:
    out = RichTable(title=title, title_justify="left")
    for column in table.columns:
        out.add_column(column)
    for row in table.rows[:limit]:
        out.add_row(*(f"{v:%Y-%m-%d %H:%M:%S}" if isinstance(v, datetime) else str(v)
                      for v in row))
    if len(table.rows) > limit:
        out.caption = f"{limit} of {len(table.rows):,} rows"
    return out


def print_analysis(result: Analysis, console: Console) -> None:
    titles = {"top_products": "Best-selling products", "payment_types": "Payment types",
              "top_customers_last_hour": "Top customers of the hour",
              "repeat_purchases": "Repeat purchases",
              "top_repeat": "Products most purchased repeatedly"}
    for name, title in titles.items():
        console.print(rich_table(title, result.tables[name]))
    for note in result.notes:
        console.print(f"[yellow]{note}[/]")
    console.print(f"report: {result.report}\nnotebooks and charts: {result.folder}")


def sql(name: str, console: Console, schema: str = store.DEFAULT_SCHEMA) -> None:
    queries.query_file(name)  # an unknown name is told before connecting
    conn = store.connect(settings_or_explain())
    try:
        columns, rows = queries.run_query(conn, name, schema)
    finally:
        conn.close()
    console.print(rich_table(f"sql/{queries.query_file(name).name}", Table(columns, rows),
                             limit=len(rows)))
    if not rows:
        console.print("[yellow]no rows: run `invoke analyze` to fill the tables[/]")


def lab_command() -> list[str]:
    """jupyter lab on the contract's address, from the repo root (notebooks/ and apps/)."""
    address = urlsplit(settings_or_explain().jupyter_url)
    return [sys.executable, "-m", "jupyter", "lab", "--no-browser", f"--ip={address.hostname}",
            f"--port={address.port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={REPO_ROOT}", "--LabApp.default_url=/lab/tree/notebooks",
            *(["--allow-root"] if os.geteuid() == 0 else [])]  # it refuses root otherwise
