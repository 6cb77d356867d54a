"""`invoke bench NAME`: one benchmark by name, or `all`: every one of the suite (soak apart:
it holds a load for minutes) into one JSON and one Markdown report under reports/."""

from __future__ import annotations

import importlib
import traceback
from pathlib import Path

from rich.console import Console

from apps.bench import report
from apps.bench.report import Figure

SUITE = {"ingest": "apps.bench.ingest", "dag": "apps.bench.dag",
         "stream": "apps.bench.stream", "analyze": "apps.bench.analyze"}
SEPARATE = {"soak": "apps.bench.soak", "dag-backlog": "apps.bench.backlog",
            "lake": "apps.bench.lake", "status": "apps.bench.status"}
KNOWN = {**SUITE, **SEPARATE}


def run_one(name: str, console: Console, **options) -> list[Figure]:
    if name not in KNOWN:
        raise KeyError(f"unknown benchmark {name!r}; known: {', '.join(KNOWN)}")
    figures = importlib.import_module(KNOWN[name]).run(console=console, **options)
    report.print_figures(console, figures, f"{name}: figures")
    return figures


def run_separate(name: str, console: Console, **options) -> tuple[Path, Path]:
    """A benchmark outside the suite (soak), with a report of its own under reports/."""
    start = report.machine()
    figures = run_one(name, console, **options)
    return report.write(figures, start, report.machine(), {}, name=name)


def run_suite(console: Console) -> tuple[Path, Path, dict[str, str]]:
    """Every benchmark of the suite in turn; one that fails is noted and the rest still run.
    Returns the report's paths and the failures."""
    start, figures, errors = report.machine(), [], {}
    for name in SUITE:
        console.rule(f"bench {name}")
        try:
            figures += run_one(name, console)
        except Exception as exc:  # a benchmark's failure is part of the report
            errors[name] = f"{type(exc).__name__}: {exc}"
            console.print(traceback.format_exc(), markup=False)
    end = report.machine()
    as_json, as_md = report.write(figures, start, end, errors)
    console.rule("report")
    report.print_figures(console, figures, "shopstream benchmarks")
    return as_json, as_md, errors
