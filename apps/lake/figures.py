"""What a table holds, as the runs that change it record it: its version, live files and
bytes, and the oldest period maintenance has not yet compacted.

`invoke status` never lists the lake: the stream records its tables' figures after each
commit (a small file beside its progress file), a maintenance run records its own at its
end (beside the table's lease, in the store), and status shows the newer of the two.

    s3://<bucket>/<root><area>/_maintenance/last-run.json   {finished_at, run, lake}
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from datetime import UTC, datetime

PERIOD = "dt"  # the tables' partition column: one period per UTC date


@dataclass(frozen=True)
class Period:
    name: str  # the `dt` value
    files: int
    bytes: int
    last_added: datetime


def periods_of(add_actions) -> list[Period]:
    """A table's live files grouped by period, from delta-rs `get_add_actions(flatten=True)`
    (an Arrow table: `partition.dt`, `size_bytes`, `modification_time` in ms)."""
    import pyarrow as pa  # here: `invoke status` reads figures without paying for pyarrow

    grouped: dict[str, list[dict]] = {}
    for row in pa.table(add_actions).to_pylist():
        grouped.setdefault(row[f"partition.{PERIOD}"], []).append(row)
    return [Period(name, len(files), sum(f["size_bytes"] for f in files),
                   datetime.fromtimestamp(max(f["modification_time"] for f in files) / 1000, UTC))
            for name, files in sorted(grouped.items())]


@dataclass(frozen=True)
class LakeFigures:
    area: str  # "raw" or "quarantine"
    version: int
    files: int
    bytes: int
    oldest_uncompacted: str | None  # the oldest period with more than one file
    recorded_at: datetime
    recorded_by: str  # "stream" or "maintenance"

    def to_json(self) -> dict:
        return {**asdict(self), "recorded_at": self.recorded_at.isoformat()}

    @classmethod
    def from_json(cls, value: dict) -> LakeFigures:
        return cls(**{**value, "recorded_at": datetime.fromisoformat(value["recorded_at"])})


def figures_of(area: str, version: int, periods: list[Period], recorded_at: datetime,
               recorded_by: str) -> LakeFigures:
    uncompacted = [p.name for p in periods if p.files > 1]
    return LakeFigures(area, version, sum(p.files for p in periods),
                       sum(p.bytes for p in periods), min(uncompacted, default=None),
                       recorded_at, recorded_by)


def table_figures(delta, area: str, recorded_by: str, now: datetime | None = None
                  ) -> LakeFigures:
    """The figures of a delta-rs DeltaTable as loaded (no request to the store)."""
    return figures_of(area, delta.version(), periods_of(delta.get_add_actions(flatten=True)),
                      now or datetime.now(UTC), recorded_by)


def newest(*candidates: LakeFigures | None) -> LakeFigures | None:
    """The figures of the latest table version among those recorded."""
    found = [c for c in candidates if c is not None]
    return max(found, key=lambda f: (f.version, f.recorded_at), default=None)


@dataclass(frozen=True)
class MaintenanceRecord:
    """A maintenance run's end: what it did (apps/lake/maintenance.Figures as a dict) and
    the table it left."""

    finished_at: datetime
    run: dict
    lake: LakeFigures

    def to_json(self) -> bytes:
        return json.dumps({"finished_at": self.finished_at.isoformat(), "run": self.run,
                           "lake": self.lake.to_json()}).encode()

    @classmethod
    def from_json(cls, data: bytes) -> MaintenanceRecord:
        value = json.loads(data)
        return cls(datetime.fromisoformat(value["finished_at"]), value["run"],
                   LakeFigures.from_json(value["lake"]))


def age(then: datetime, now: datetime) -> str:
    seconds = max(0, int((now - then).total_seconds()))
    if seconds < 120:
        return f"{seconds} s"
    if seconds < 2 * 3600:
        return f"{seconds // 60} min"
    if seconds < 2 * 86400:
        return f"{seconds // 3600} h"
    return f"{seconds // 86400} d"


def size(n: int) -> str:
    for unit in ("B", "KiB", "MiB", "GiB"):
        if n < 1024 or unit == "GiB":
            return f"{n:,.0f} {unit}" if unit == "B" else f"{n:,.1f} {unit}"
        n /= 1024
    raise AssertionError("unreachable")


def describe(area: str, figures: LakeFigures | None, maintenance: MaintenanceRecord | None,
             now: datetime) -> str:
    """One table's line in `invoke status`."""
    if figures is None:
        lake = f"{area}: nothing recorded yet"
    else:
        lake = (f"{figures.area} v{figures.version}: {figures.files:,} files, "
                f"{size(figures.bytes)}, "
                + (f"oldest uncompacted {PERIOD}={figures.oldest_uncompacted}"
                   if figures.oldest_uncompacted else "all compacted")
                + f" ({figures.recorded_by}, {age(figures.recorded_at, now)} ago)")
    if maintenance is None:
        return f"{lake}; no maintenance run recorded"
    run = maintenance.run
    return (f"{lake}; maintenance {age(maintenance.finished_at, now)} ago: "
            f"{plural(run['periods_compacted'], 'period')} compacted, "
            f"{plural(run['files_vacuumed'], 'file')} vacuumed")


def plural(n: int, noun: str) -> str:
    return f"{n:,} {noun}" + ("" if n == 1 else "s")

