"""The benchmarks' common result: each `run()` returns Figures, printed as one table and
written by `invoke bench` (all of them) as one JSON and one Markdown report under reports/,
with the machine they ran on."""

from __future__ import annotations

import json
import os
import platform
import re
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path

import psutil
from rich.console import Console
from rich.table import Table

from apps.settings import REPO_ROOT

REPORTS = REPO_ROOT / "reports"
GOAL = re.compile(r"^(<=|>=|<|>) *([0-9.]+)$")


@dataclass(frozen=True)
class Figure:
    """One measured figure beside its reference, measured in the same run. `goal` bounds the
    ratio (value / reference), or the value itself when there is no reference: "<= 2"."""

    benchmark: str
    name: str
    value: float
    unit: str
    reference_name: str = ""
    reference_value: float | None = None
    goal: str = ""

    @property
    def ratio(self) -> float | None:
        if self.reference_value in (None, 0):
            return None
        return self.value / self.reference_value

    @property
    def met(self) -> bool | None:
        """Whether the goal is met; None without a goal."""
        if not self.goal:
            return None
        match = GOAL.match(self.goal)
        if match is None:
            raise ValueError(f"goal {self.goal!r} is not '<=|>=|<|> number'")
        op, bound = match[1], float(match[2])
        x = self.value if self.ratio is None else self.ratio
        return {"<=": x <= bound, ">=": x >= bound, "<": x < bound, ">": x > bound}[op]

    def as_dict(self) -> dict:
        return {**asdict(self), "ratio": self.ratio, "met": self.met}


def number(x: float | None) -> str:
    if x is None:
        return ""
    if x == 0 or abs(x) >= 100:
        return f"{x:,.0f}"
    return f"{x:,.2f}" if abs(x) >= 0.01 else f"{x:.2g}"


def rows(figures: list[Figure]) -> list[list[str]]:
    out = []
    for f in figures:
        met = {None: "", True: "met", False: "MISSED"}[f.met]
        out.append([f.benchmark, f.name, f"{number(f.value)} {f.unit}".strip(),
                    f.reference_name, number(f.reference_value), number(f.ratio),
                    f"{f.goal} {met}".strip()])
    return out


COLUMNS = ("benchmark", "figure", "value", "reference", "reference value", "ratio", "goal")


def print_figures(console: Console, figures: list[Figure], title: str = "figures") -> None:
    table = Table(title=title)
    for column in COLUMNS:
        table.add_column(column, justify="right" if column in ("reference value", "ratio")
                         else "left")
    for row in rows(figures):
        table.add_row(*row)
    console.print(table)


def machine() -> dict:
    """What the figures were measured on (call at the start and at the end of a run)."""
    model = ""
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        model = next((line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                      if line.startswith("model name")), "")
    return {"at": datetime.now(UTC).isoformat(timespec="seconds"),
            "cpu_count": os.cpu_count(), "cpu_model": model or platform.processor(),
            "memory_gib": round(psutil.virtual_memory().total / 2**30, 1),
            "memory_available_gib": round(psutil.virtual_memory().available / 2**30, 1),
            "python": platform.python_version(), "os": platform.platform(),
            "load_average": [round(x, 2) for x in psutil.getloadavg()]}


def markdown(figures: list[Figure], start: dict, end: dict, errors: dict[str, str]) -> str:
    lines = ["# shopstream benchmark report", "",
             f"Run from {start['at']} to {end['at']} on {start['cpu_count']} CPUs "
             f"({start['cpu_model']}), {start['memory_gib']} GiB memory, Python "
             f"{start['python']}, {start['os']}.",
             f"Load average (1, 5, 15 min) at the start {start['load_average']}, at the end "
             f"{end['load_average']}.", "",
             "| " + " | ".join(COLUMNS) + " |", "|" + " --- |" * len(COLUMNS)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |"
              for row in rows(figures)]
    if errors:
        lines += ["", "Benchmarks that did not finish:", ""]
        lines += [f"- {name}: {error}" for name, error in errors.items()]
    return "\n".join(lines) + "\n"


def write(figures: list[Figure], start: dict, end: dict, errors: dict[str, str],
          folder: Path = REPORTS, name: str = "bench") -> tuple[Path, Path]:
    """reports/<name>-<time>.json and .md; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{name}-{start['at'].replace(':', '').replace('+0000', 'Z')}"
    as_json = stem.with_suffix(".json")
    as_json.write_text(json.dumps({"machine": {"start": start, "end": end},
                                   "figures": [f.as_dict() for f in figures],
                                   "errors": errors}, indent=2) + "\n")
    as_md = stem.with_suffix(".md")
    as_md.write_text(markdown(figures, start, end, errors))
    return as_json, as_md
