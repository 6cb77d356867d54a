"""Lake maintenance: each period's small files rewritten into a few large ones, then the
files no recent snapshot needs removed after a grace period.

    python -m apps.lake.maintenance [--closed] [--root PREFIX/]

The stream adds a file per period per batch (360 an hour); a reader pays for each file,
so maintenance keeps a reader's cost on rows. A period is closed once nothing was added
to it for `QUIET` (its `dt` is the purchase's own date: a late record reopens it, and it
is simply compacted again later). The scheduled run (DAG `lake_maintenance`) compacts
closed periods; `invoke compact` every period with more than one file, quiet or not.

Each period is one commit of delta-rs's compaction, beside the stream's appends (both
commit by conditional PUT): a run killed midway leaves every period either as it was or
compacted, never both, and is simply run again. Files a compaction replaced stay in the
store, out of the table, until a vacuum after `GRACE`, longer than any reader runs.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pyarrow as pa
from deltalake import CommitProperties

from apps.lake.tables import PERIOD, QUARANTINE_TABLE, RAW_TABLE, LakeTable, open_table
from apps.settings import Settings, get_settings

log = logging.getLogger(__name__)

QUIET = timedelta(minutes=30)
GRACE = timedelta(hours=2)
TARGET_FILE_BYTES = 128 * 2**20
MAINTENANCE_KEY = "shopstream.maintenance"


@dataclass(frozen=True)
class Period:
    name: str  # the `dt` value
    files: int
    bytes: int
    last_added: datetime


def periods_of(add_actions) -> list[Period]:
    """A table's live files grouped by period, from delta-rs `get_add_actions(flatten=True)`
    (an Arrow table: `partition.dt`, `size_bytes`, `modification_time` in ms)."""
    grouped: dict[str, list[dict]] = {}
    for row in pa.table(add_actions).to_pylist():
        grouped.setdefault(row[f"partition.{PERIOD}"], []).append(row)
    return [Period(name, len(files), sum(f["size_bytes"] for f in files),
                   datetime.fromtimestamp(max(f["modification_time"] for f in files) / 1000, UTC))
            for name, files in sorted(grouped.items())]


def to_compact(periods: list[Period], now: datetime, closed_only: bool,
               quiet: timedelta = QUIET) -> list[Period]:
    """The periods worth rewriting: more than one file, and with `closed_only` quiet for
    `quiet` (nothing added since)."""
    return [p for p in periods
            if p.files > 1 and (not closed_only or now - p.last_added >= quiet)]


@dataclass
class Figures:
    table: str
    periods_compacted: int = 0
    files_before: int = 0
    files_after: int = 0
    files_vacuumed: int = 0
    seconds: float = 0.0


Say = Callable[[str], None]


def maintain(settings: Settings, table: LakeTable, closed_only: bool,
             say: Say = log.info, grace: timedelta = GRACE) -> Figures:
    started = time.monotonic()
    figures = Figures(table.area)
    delta = open_table(settings, table)
    if delta is None:
        return figures
    now = datetime.now(UTC)
    todo = to_compact(periods_of(delta.get_add_actions(flatten=True)), now, closed_only)
    for i, period in enumerate(todo, 1):
        delta.update_incremental()  # the stream may have committed since
        result = delta.optimize.compact(
            partition_filters=[(PERIOD, "=", period.name)], target_size=TARGET_FILE_BYTES,
            commit_properties=CommitProperties(custom_metadata={
                MAINTENANCE_KEY: f"compact {table.area} {PERIOD}={period.name}"}))
        figures.periods_compacted += 1
        figures.files_before += result["numFilesRemoved"]
        figures.files_after += result["numFilesAdded"]
        say(f"{table.area} {PERIOD}={period.name}: {result['numFilesRemoved']} files -> "
            f"{result['numFilesAdded']} ({i} of {len(todo)})")
    delta.update_incremental()
    removed = delta.vacuum(retention_hours=int(grace.total_seconds() // 3600), dry_run=False,
                           enforce_retention_duration=False)
    figures.files_vacuumed = len(removed)
    figures.seconds = round(time.monotonic() - started, 3)
    say(f"{table.area}: {figures.periods_compacted} periods compacted "
        f"({figures.files_before} files -> {figures.files_after}), "
        f"{figures.files_vacuumed} superseded files removed, {figures.seconds:.1f} s")
    return figures


def maintain_lake(settings: Settings, closed_only: bool, root: str = "",
                  say: Say = log.info) -> list[Figures]:
    return [maintain(settings, t.under(root), closed_only, say)
            for t in (RAW_TABLE, QUARANTINE_TABLE)]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="compact the lake's periods, then vacuum")
    parser.add_argument("--closed", action="store_true",
                        help=f"only periods quiet for {QUIET} (the schedule's way)")
    parser.add_argument("--root", default="", help="a lake prefix ('' = the pipeline's)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    maintain_lake(get_settings(), args.closed, args.root)


if __name__ == "__main__":
    main()
